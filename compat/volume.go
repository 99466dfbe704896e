package compat

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/engine"
	enginevolume "github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/errdefs"
)

// VolumeAnonymousLabel is the label dockerd shows on anonymous volumes
// (created without a name, by a container or by `docker volume create`).
const VolumeAnonymousLabel = "com.docker.volume.anonymous"

// volumeScope is the only scope of local volumes.
const volumeScope = "local"

// Volume converts an engine volume to Docker's shape: CreatedAt in RFC
// 3339, Labels never null (with dockerd's anonymous label on anonymous
// volumes), Scope local, Options as created (null when none were given),
// no Status and no UsageData (dockerd fills UsageData for `system df`
// only, and so does server/system).
func Volume(v engine.VolumeInfo) *volume.Volume {
	return &volume.Volume{
		Name:       v.Name,
		Driver:     v.Driver,
		Mountpoint: v.Mountpoint,
		CreatedAt:  v.CreatedAt.UTC().Format(time.RFC3339),
		Labels:     volumeLabels(v.Volume),
		Scope:      volumeScope,
		Options:    v.Options,
	}
}

// volumeLabels are a volume's labels as dockerd shows and filters them.
func volumeLabels(v enginevolume.Volume) map[string]string {
	labels := maps.Clone(v.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if v.Anonymous {
		labels[VolumeAnonymousLabel] = ""
	}
	return labels
}

// volumeListKeys are the filters `docker volume ls` accepts.
var volumeListKeys = map[string]bool{"dangling": true, "driver": true, "label": true, "name": true}

// VolumeListFilter is the filter of GET /volumes.
type VolumeListFilter struct {
	args filters.Args
	// dangling is nil when not filtered, else the wanted danglingness.
	dangling *bool
}

// NewVolumeListFilter validates `docker volume ls` filters, with dockerd's
// semantics: name is a regular expression found anywhere in the name (so
// a substring matches) or the exact name, label is "key" or "key=value",
// driver matches exactly, dangling (true/1 or false/0) keeps the volumes no
// container mounts, running or not, or the others.
func NewVolumeListFilter(args filters.Args) (VolumeListFilter, error) {
	f := VolumeListFilter{args: args}
	if err := args.Validate(volumeListKeys); err != nil {
		return f, errdefs.InvalidParameter(err)
	}
	if args.Contains("dangling") {
		d, err := args.GetBoolOrDefault("dangling", false)
		if err != nil {
			return f, errdefs.InvalidParameter(err)
		}
		f.dangling = &d
	}
	return f, nil
}

// Match says whether v is listed.
func (f VolumeListFilter) Match(v engine.VolumeInfo) bool {
	a := f.args
	switch {
	case a.Contains("name") && !a.Match("name", v.Name):
	case a.Contains("driver") && !a.ExactMatch("driver", v.Driver):
	case a.Contains("label") && !a.MatchKVList("label", volumeLabels(v.Volume)):
	case f.dangling != nil && *f.dangling != (len(v.UsedBy) == 0):
	default:
		return true
	}
	return false
}

// volumePruneKeys are the filters `docker volume prune` accepts.
var volumePruneKeys = map[string]bool{"label": true, "label!": true, "all": true}

// VolumePruneFilter parses `docker volume prune` filters: the match for
// label and label! ("key" or "key=value"), and all (named volumes too,
// not only anonymous ones), one boolean as strconv reads it.
func VolumePruneFilter(args filters.Args) (match func(enginevolume.Volume) bool, all bool, err error) {
	if err := args.Validate(volumePruneKeys); err != nil {
		return nil, false, errdefs.InvalidParameter(err)
	}
	switch v := args.Get("all"); len(v) {
	case 0:
	case 1:
		if all, err = strconv.ParseBool(v[0]); err != nil {
			return nil, false, errdefs.InvalidParameter(fmt.Errorf("invalid filter 'all': %w", err))
		}
	default:
		return nil, false, errdefs.InvalidParameterf("invalid filter 'all=%s': only one value is expected", v)
	}
	match = func(v enginevolume.Volume) bool {
		labels := volumeLabels(v)
		if args.Contains("label") && !args.MatchKVList("label", labels) {
			return false
		}
		if args.Contains("label!") && args.MatchKVList("label!", labels) {
			return false
		}
		return true
	}
	return match, all, nil
}
