package compat

import (
	"time"

	"github.com/docker/docker/api/types/filters"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/errdefs"
)

// networkListKeys are the filters `docker network ls` accepts.
var networkListKeys = map[string]bool{
	"dangling": true, "driver": true, "id": true, "label": true, "name": true, "scope": true, "type": true,
}

// NetworkListFilter is the filter of GET /networks.
type NetworkListFilter struct {
	args filters.Args
	// dangling is nil when not filtered, else the wanted danglingness.
	dangling *bool
}

// NewNetworkListFilter validates `docker network ls` filters: name and id
// match as dockerd's (a regular expression found anywhere, so an ID prefix
// or part of a name matches), label is "key" or "key=value", driver and
// scope match exactly, type is custom or builtin, dangling (true/1 or
// false/0) keeps the user-defined networks no running container uses, or
// the others.
func NewNetworkListFilter(args filters.Args) (NetworkListFilter, error) {
	f := NetworkListFilter{args: args}
	if err := args.Validate(networkListKeys); err != nil {
		return f, errdefs.InvalidParameter(err)
	}
	if v := args.Get("dangling"); len(v) > 0 {
		if len(v) > 1 {
			return f, errdefs.InvalidParameterf(`got more than one value for filter key "dangling"`)
		}
		var d bool
		switch v[0] {
		case "1", "true":
			d = true
		case "0", "false":
		default:
			return f, errdefs.InvalidParameterf(`invalid value for filter 'dangling', must be "true" (or "1"), or "false" (or "0")`)
		}
		f.dangling = &d
	}
	for _, t := range args.Get("type") {
		if t != "custom" && t != "builtin" {
			return f, errdefs.InvalidParameterf("invalid filter: 'type'='%s'", t)
		}
	}
	return f, nil
}

// Match says whether n is listed.
func (f NetworkListFilter) Match(n engine.NetworkInfo) bool {
	a := f.args
	switch {
	case a.Contains("driver") && !a.ExactMatch("driver", n.Driver):
	case a.Contains("name") && !a.Match("name", n.Name):
	case a.Contains("id") && !a.Match("id", n.ID):
	case a.Contains("label") && !a.MatchKVList("label", n.Labels):
	case a.Contains("scope") && !a.ExactMatch("scope", networkScope):
	case f.dangling != nil && *f.dangling != (!n.Predefined() && len(n.Containers) == 0):
	case a.Contains("type") && !a.ExactMatch("type", networkType(n.Network)):
	default:
		return true
	}
	return false
}

// networkType is what the type filter compares: builtin for bridge, host
// and none, custom for the others.
func networkType(n network.Network) string {
	if n.Predefined() {
		return "builtin"
	}
	return "custom"
}

// NetworkPruneFilter converts `docker network prune` filters (until,
// label, label!), parsed as for containers, to the engine's predicate.
func NetworkPruneFilter(args filters.Args, now time.Time) (func(network.Network) bool, error) {
	opts, err := PruneFilter(args, now)
	if err != nil {
		return nil, err
	}
	return func(n network.Network) bool {
		if !opts.Until.IsZero() && n.Created.After(opts.Until) {
			return false
		}
		if !args.MatchKVList("label", n.Labels) {
			return false
		}
		return !args.Contains("label!") || !args.MatchKVList("label!", n.Labels)
	}, nil
}
