package build

import (
	"net/http"
	"strconv"
	"time"

	"github.com/pier-vm/pier/compat"
	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// cacheFilters maps docker builder prune's filters to BuildKit's filter
// operators, as dockerd does; until is a duration, handled apart.
var cacheFilters = map[string]string{
	"id": "==", "parent": "==", "type": "==", "description": "~=",
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
	for _, key := range args.Keys() {
		for _, v := range args.Get(key) {
			if key == "until" {
				d, err := time.ParseDuration(v)
				if err != nil {
					return opts, errdefs.InvalidParameterf("%q filter expects a duration (e.g., '24h'): %v", key, err)
				}
				opts.KeepDuration = d
				continue
			}
			op, ok := cacheFilters[key]
			if !ok {
				return opts, errdefs.InvalidParameterf("filter %q is not valid", key)
			}
			opts.Filters = append(opts.Filters, key+op+v)
		}
	}
	return opts, nil
}
