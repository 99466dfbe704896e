package system

import (
	"context"
	"net/http"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// DiskUsageBackend is what GET /system/df needs from the engine.
type DiskUsageBackend interface {
	DiskUsage(ctx context.Context, opts engine.DiskUsageOptions) (*engine.DiskUsage, error)
}

// BuildCacheBackend lists the build cache for GET /system/df.
type BuildCacheBackend interface {
	CacheUsage(ctx context.Context) ([]enginebuild.CacheRecord, error)
}

// DiskUsageRouter serves GET /system/df (`docker system df`).
type DiskUsageRouter struct {
	backend DiskUsageBackend
	cache   BuildCacheBackend
}

// NewDiskUsageRouter returns the disk usage router over b.
// cache may be nil (no builder: the build cache is empty).
func NewDiskUsageRouter(b DiskUsageBackend, cache BuildCacheBackend) *DiskUsageRouter {
	return &DiskUsageRouter{backend: b, cache: cache}
}

// Routes lists the disk usage route.
func (r *DiskUsageRouter) Routes() []httputils.Route {
	return []httputils.Route{{Method: http.MethodGet, Path: "/system/df", Handler: r.getDiskUsage}}
}

// getDiskUsage answers as dockerd: every part unless `type` (API 1.42+,
// repeatable: container, image, volume, build-cache) picks some; an
// unknown type is 400. Images carry SharedSize and the number of
// containers using them, containers SizeRw and SizeRootFs, volumes
// UsageData; the build cache of the builder VM while it runs.
func (r *DiskUsageRouter) getDiskUsage(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err)
	}
	version := httputils.VersionFromContext(req.Context())
	var opts engine.DiskUsageOptions
	buildCache := false
	typ, picked := req.Form["type"]
	if versions.LessThan(version, "1.42") || !picked {
		opts = engine.DiskUsageOptions{Containers: true, Images: true, Volumes: true}
		buildCache = true
	} else {
		for _, t := range typ {
			switch types.DiskUsageObject(t) {
			case types.ContainerObject:
				opts.Containers = true
			case types.ImageObject:
				opts.Images = true
			case types.VolumeObject:
				opts.Volumes = true
			case types.BuildCacheObject:
				buildCache = true
			default:
				return errdefs.InvalidParameterf("unknown object type: %s", t)
			}
		}
	}
	du := &engine.DiskUsage{}
	if opts.Containers || opts.Images || opts.Volumes {
		var err error
		if du, err = r.backend.DiskUsage(req.Context(), opts); err != nil {
			return err
		}
	}
	var out types.DiskUsage
	if opts.Images {
		out.LayersSize = du.LayersSize
		out.Images = []*imagetypes.Summary{}
		for _, u := range du.Images {
			s := compat.ImageSummary(u.Image)
			s.SharedSize, s.Containers = u.SharedSize, int64(u.Containers)
			if versions.LessThan(version, "1.44") {
				s.VirtualSize = s.Size //nolint:staticcheck // still sent before API 1.44, as dockerd does
			}
			out.Images = append(out.Images, &s)
		}
	}
	if opts.Containers {
		now := time.Now()
		out.Containers = []*container.Summary{}
		for _, u := range du.Containers {
			s := compat.ContainerSummary(u.Summary, now)
			s.SizeRw, s.SizeRootFs = u.SizeRw, u.SizeRootFs
			out.Containers = append(out.Containers, &s)
		}
	}
	if opts.Volumes {
		out.Volumes = []*volume.Volume{}
		for _, u := range du.Volumes {
			v := compat.Volume(u.VolumeInfo)
			v.UsageData = &volume.UsageData{Size: u.Size, RefCount: int64(u.RefCount)}
			out.Volumes = append(out.Volumes, v)
		}
	}
	if buildCache {
		out.BuildCache = []*build.CacheRecord{}
		if r.cache != nil {
			records, err := r.cache.CacheUsage(req.Context())
			if err != nil {
				return err
			}
			for _, c := range records {
				out.BuildCache = append(out.BuildCache, &build.CacheRecord{
					ID: c.ID, Parents: c.Parents, Type: c.Type, Description: c.Description,
					InUse: c.InUse, Shared: c.Shared, Size: c.Size, CreatedAt: c.CreatedAt,
					LastUsedAt: c.LastUsedAt, UsageCount: c.UsageCount,
				})
			}
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
