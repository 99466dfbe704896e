package compat

import (
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/engine"
	enginevolume "github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// Volume converts an engine volume to Docker's shape.
func Volume(v engine.VolumeInfo) *volume.Volume {
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return &volume.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		CreatedAt:  v.CreatedAt.UTC().Format(time.RFC3339),
		Labels:     labels,
		Scope:      "local",
		Options:    v.Options,
	}
}

// volumeListKeys are the filters `docker volume ls` accepts.
var volumeListKeys = map[string]bool{"dangling": true, "driver": true, "label": true, "name": true}

// VolumeListFilter is the filter of GET /volumes.
type VolumeListFilter struct {
	args     filters.Args
	dangling *bool
}

// NewVolumeListFilter validates `docker volume ls` filters: name is a
// substring, label "key" or "key=value", driver exact, dangling true/false
// (volumes no container mounts, or the others).
func NewVolumeListFilter(args filters.Args) (VolumeListFilter, error) {
	f := VolumeListFilter{args: args}
	if err := args.Validate(volumeListKeys); err != nil {
		return f, errdefs.InvalidParameter(err)
	}
	if v := args.Get("dangling"); len(v) > 0 {
		d, err := parseBoolFilter("dangling", v)
		if err != nil {
			return f, err
		}
		f.dangling = &d
	}
	return f, nil
}

func parseBoolFilter(key string, v []string) (bool, error) {
	if len(v) > 1 {
		return false, errdefs.InvalidParameterf("got more than one value for filter key %q", key)
	}
	switch strings.ToLower(v[0]) {
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return false, errdefs.InvalidParameterf("invalid filter '%s=%s'", key, v[0])
}

// Match says whether v is listed.
func (f VolumeListFilter) Match(v engine.VolumeInfo) bool {
	if names := f.args.Get("name"); len(names) > 0 && !anyContains(v.Name, names) {
		return false
	}
	if f.args.Contains("driver") && !f.args.ExactMatch("driver", v.Driver) {
		return false
	}
	if f.args.Contains("label") && !f.args.MatchKVList("label", v.Labels) {
		return false
	}
	if f.dangling != nil && (len(v.UsedBy) == 0) != *f.dangling {
		return false
	}
	return true
}

func anyContains(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// volumePruneKeys are the filters `docker volume prune` accepts.
var volumePruneKeys = map[string]bool{"label": true, "label!": true, "all": true}

// VolumePruneFilter parses `docker volume prune` filters: the match for
// label / label!, and all (named volumes too, not only anonymous ones).
func VolumePruneFilter(args filters.Args) (func(enginevolume.Volume) bool, bool, error) {
	if err := args.Validate(volumePruneKeys); err != nil {
		return nil, false, errdefs.InvalidParameter(err)
	}
	all := false
	if v := args.Get("all"); len(v) > 0 {
		var err error
		if all, err = parseBoolFilter("all", v); err != nil {
			return nil, false, err
		}
	}
	match := func(v enginevolume.Volume) bool {
		if args.Contains("label") && !args.MatchKVList("label", v.Labels) {
			return false
		}
		if args.Contains("label!") && args.MatchKVList("label!", v.Labels) {
			return false
		}
		return true
	}
	return match, all, nil
}
