package events

import (
	"strings"

	"github.com/distribution/reference"
)

// Filter selects events. Within one field any value may match; every
// non-empty field must match. The zero Filter matches everything.
type Filter struct {
	// Types are event types ("container", "image", ...).
	Types []string
	// Containers match a container's ID (or an ID prefix) or its name.
	Containers []string
	// Actions match the action ("start"); "health_status", "exec_create"
	// and "exec_start" also match the actions they prefix
	// ("exec_start: sh -c ls").
	Actions []string
	// Images match the actor's ID or image name, with or without its tag
	// (matchImage).
	Images []string
	// Labels are "key" or "key=value"; all of them must match the actor's
	// attributes.
	Labels []string
	// Networks and Volumes match the actor of network and volume events.
	Networks []string
	Volumes  []string
}

// Match reports whether e passes the filter.
func (f Filter) Match(e Event) bool {
	return matchAny(f.Types, func(v string) bool { return v == e.Type }) &&
		matchAny(f.Actions, func(v string) bool { return matchAction(v, e.Action) }) &&
		matchAny(f.Containers, func(v string) bool {
			return e.Type == TypeContainer && (strings.HasPrefix(e.Actor.ID, v) || e.Actor.Attributes["name"] == strings.TrimPrefix(v, "/"))
		}) &&
		matchAny(f.Images, func(v string) bool { return matchImage(v, e) }) &&
		matchAll(f.Labels, func(v string) bool { return matchLabel(v, e.Actor.Attributes) }) &&
		matchAny(f.Networks, func(v string) bool {
			return e.Type == TypeNetwork && (strings.HasPrefix(e.Actor.ID, v) || e.Actor.Attributes["name"] == v)
		}) &&
		matchAny(f.Volumes, func(v string) bool { return e.Type == TypeVolume && e.Actor.ID == v })
}

func matchAny(values []string, match func(string) bool) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if match(v) {
			return true
		}
	}
	return false
}

func matchAll(values []string, match func(string) bool) bool {
	for _, v := range values {
		if !match(v) {
			return false
		}
	}
	return true
}

func matchAction(want, action string) bool {
	if want == action {
		return true
	}
	switch want {
	case "health_status", "exec_create", "exec_start":
		return strings.HasPrefix(action, want+":")
	}
	return false
}

// matchImage is dockerd's rule: want equals the actor's ID or its image
// name (the image attribute; the name attribute of image events), either
// as it is or as a repository without its tag ("busybox" matches
// "busybox:1.36").
func matchImage(want string, e Event) bool {
	nameAttr := "image"
	if e.Type == TypeImage {
		nameAttr = "name"
	}
	for _, c := range []string{e.Actor.ID, e.Actor.Attributes[nameAttr]} {
		if c != "" && (c == want || stripTag(c) == want) {
			return true
		}
	}
	return false
}

// stripTag is ref's repository in familiar form, or ref when it does not
// parse.
func stripTag(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarName(named)
}

func matchLabel(want string, attrs map[string]string) bool {
	key, value, hasValue := strings.Cut(want, "=")
	got, ok := attrs[key]
	if !ok {
		return false
	}
	return !hasValue || got == value
}
