package build

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	timetypes "github.com/docker/docker/api/types/time"

	"github.com/pier-vm/pier/compat"
	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// cacheFilters are the filters docker builder prune hands BuildKit, as
// dockerd does: id as a substring (~=), the others exact (==), one value
// each, all of them together (one comma-joined BuildKit filter). until
// (or its older name unused-for) is a duration or a timestamp, handled
// apart; label and label! are accepted and ignored, as dockerd does.
var cacheFilters = map[string]string{
	"id": "~=", "parent": "==", "type": "==", "description": "==",
	"inuse": "==", "shared": "==", "private": "==",
}

// pruneOptions reads POST /build/prune's query: all, the space limits
// (keep-storage is the old name of reserved-space) and filters.
func pruneOptions(req *http.Request) (enginebuild.PruneOptions, error) {
	var opts enginebuild.PruneOptions
	if err := req.ParseForm(); err != nil {
		return opts, errdefs.InvalidParameter(err)
	}
	q := req.Form
	opts.All = httputils.BoolValue(req, "all")
	for _, f := range []struct {
		names []string
		dst   *int64
	}{
		{[]string{"reserved-space", "keep-storage"}, &opts.ReservedSpace},
		{[]string{"max-used-space"}, &opts.MaxUsedSpace},
		{[]string{"min-free-space"}, &opts.MinFreeSpace},
	} {
		for _, name := range f.names {
			v := q.Get(name)
			if v == "" {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return opts, errdefs.InvalidParameterf("%s is invalid: %q", name, v)
			}
			*f.dst = n
			break
		}
	}
	args, err := compat.ParseFilters(q.Get("filters"))
	if err != nil {
		return opts, err
	}
	valid := map[string]bool{"until": true, "unused-for": true, "label": true, "label!": true}
	for k := range cacheFilters {
		valid[k] = true
	}
	if err := args.Validate(valid); err != nil {
		return opts, errdefs.InvalidParameter(err)
	}
	key := "until"
	if args.Contains("unused-for") {
		if args.Contains("until") {
			return opts, errdefs.InvalidParameterf("conflicting filters: %q and %q", "until", "unused-for")
		}
		key = "unused-for"
	}
	switch until := args.Get(key); len(until) {
	case 0:
	case 1:
		ts, err := timetypes.GetTimestamp(until[0], time.Now())
		if err != nil {
			return opts, errdefs.InvalidParameterf("%q filter expects a duration (e.g., '24h') or a timestamp: %v", key, err)
		}
		t, err := compat.ParseTimestamp(ts)
		if err != nil {
			return opts, err
		}
		opts.KeepDuration = time.Since(t)
	default:
		return opts, errdefs.InvalidParameterf("filters expect only one value")
	}
	var bk []string
	for _, k := range slices.Sorted(maps.Keys(cacheFilters)) {
		if !args.Contains(k) {
			continue
		}
		switch v := args.Get(k); len(v) {
		case 0:
			bk = append(bk, k) // the field is set, whatever its value
		case 1:
			bk = append(bk, k+cacheFilters[k]+v[0])
		default:
			return opts, errdefs.InvalidParameterf("filters expect only one value")
		}
	}
	if len(bk) > 0 {
		opts.Filters = []string{strings.Join(bk, ",")}
	}
	return opts, nil
}
