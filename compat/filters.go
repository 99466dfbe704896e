package compat

import (
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	timetypes "github.com/docker/docker/api/types/time"
	"github.com/docker/go-connections/nat"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/errdefs"
)

// ParseFilters reads the `filters` query parameter (both the current
// {"key":{"value":true}} form and the old {"key":["value"]} form).
func ParseFilters(raw string) (filters.Args, error) {
	args, err := filters.FromJSON(raw)
	if err != nil {
		return filters.Args{}, errdefs.InvalidParameter(err)
	}
	return args, nil
}

// containerListKeys are the filters `docker ps` accepts.
var containerListKeys = map[string]bool{
	"id": true, "name": true, "label": true, "status": true, "ancestor": true, "exited": true,
	"before": true, "since": true, "health": true, "network": true, "volume": true,
	"publish": true, "expose": true, "is-task": true,
}

var containerStatuses = map[string]bool{
	"created": true, "running": true, "paused": true, "restarting": true, "removing": true, "exited": true, "dead": true,
}

// ContainerListFilter converts and validates `docker ps` filters.
// is-task=true matches nothing, as there is no swarm.
func ContainerListFilter(args filters.Args) (engine.ListFilter, bool, error) {
	if err := args.Validate(containerListKeys); err != nil {
		return engine.ListFilter{}, false, errdefs.InvalidParameter(err)
	}
	f := engine.ListFilter{
		IDs:       args.Get("id"),
		Names:     args.Get("name"),
		Labels:    args.Get("label"),
		Ancestors: args.Get("ancestor"),
		Health:    args.Get("health"),
		Networks:  args.Get("network"),
		Volumes:   args.Get("volume"),
	}
	var err error
	if f.Publish, err = portFilter("publish", args.Get("publish")); err != nil {
		return f, false, err
	}
	if f.Expose, err = portFilter("expose", args.Get("expose")); err != nil {
		return f, false, err
	}
	for _, h := range f.Health {
		if err := container.ValidateHealthStatus(h); err != nil {
			return f, false, errdefs.InvalidParameterf("invalid filter 'health=%s': %v", h, err)
		}
	}
	for _, s := range args.Get("status") {
		if !containerStatuses[s] {
			return f, false, errdefs.InvalidParameterf("invalid filter 'status=%s'", s)
		}
		f.Statuses = append(f.Statuses, s)
	}
	for _, e := range args.Get("exited") {
		code, err := strconv.Atoi(e)
		if err != nil {
			return f, false, errdefs.InvalidParameterf("invalid filter 'exited=%s'", e)
		}
		f.Exited = append(f.Exited, code)
	}
	if v := args.Get("before"); len(v) > 0 {
		f.Before = v[0]
	}
	if v := args.Get("since"); len(v) > 0 {
		f.Since = v[0]
	}
	isTask, err := args.GetBoolOrDefault("is-task", false)
	if err != nil {
		return f, false, errdefs.InvalidParameter(err)
	}
	return f, !isTask, nil
}

// portFilter checks publish and expose values ("80", "8000-8002/udp") as
// dockerd reads them and normalizes them to "port/proto" or
// "first-last/proto" (engine.ListFilter's form). A range stays a range:
// dockerd expands it to one key a port, which a query of many wide ranges
// turns into billions of keys.
func portFilter(key string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		if strings.Contains(v, ":") {
			return nil, errdefs.InvalidParameterf("filter for '%s' should not contain ':': %s", key, v)
		}
		proto, port := nat.SplitProtoPort(v)
		start, end, err := nat.ParsePortRange(port)
		if err != nil {
			return nil, errdefs.InvalidParameterf("error while looking up for %s %s: %v", key, v, err)
		}
		ports := strconv.FormatUint(start, 10)
		if end != start {
			ports += "-" + strconv.FormatUint(end, 10)
		}
		out = append(out, ports+"/"+proto)
	}
	return out, nil
}

// PruneFilter converts `docker container prune` filters (until, label,
// label!).
func PruneFilter(args filters.Args, now time.Time) (engine.PruneOptions, error) {
	if err := args.Validate(map[string]bool{"until": true, "label": true, "label!": true}); err != nil {
		return engine.PruneOptions{}, errdefs.InvalidParameter(err)
	}
	opts := engine.PruneOptions{Labels: args.Get("label"), NotLabels: args.Get("label!")}
	if v := args.Get("until"); len(v) > 0 {
		if len(v) > 1 {
			return opts, errdefs.InvalidParameterf("more than one until filter specified")
		}
		ts, err := timetypes.GetTimestamp(v[0], now)
		if err != nil {
			return opts, errdefs.InvalidParameter(err)
		}
		until, err := ParseTimestamp(ts)
		if err != nil {
			return opts, err
		}
		opts.Until = until
	}
	return opts, nil
}

// eventKeys are the filters `docker events` accepts.
var eventKeys = map[string]bool{
	"type": true, "container": true, "event": true, "image": true, "label": true,
	"network": true, "volume": true, "daemon": true, "scope": true,
	"plugin": true, "node": true, "service": true, "secret": true, "config": true,
}

// EventFilter converts and validates `docker events` filters.
func EventFilter(args filters.Args) (events.Filter, error) {
	if err := args.Validate(eventKeys); err != nil {
		return events.Filter{}, errdefs.InvalidParameter(err)
	}
	return events.Filter{
		Types:      args.Get("type"),
		Containers: args.Get("container"),
		Actions:    args.Get("event"),
		Images:     args.Get("image"),
		Labels:     args.Get("label"),
		Networks:   args.Get("network"),
		Volumes:    args.Get("volume"),
	}, nil
}

// ParseTimestamp reads Docker's "seconds[.nanoseconds]" query timestamps
// (since, until); "" is the zero time.
func ParseTimestamp(s string) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, nil
	}
	sec, nsec, err := timetypes.ParseTimestamps(s, 0)
	if err != nil {
		return time.Time{}, errdefs.InvalidParameterf("invalid timestamp %q: %v", s, err)
	}
	return time.Unix(sec, nsec), nil
}
