// Package volume serves the /volumes routes of the Docker Engine API: list
// (with filters), inspect, create, remove and prune of local volumes. HTTP
// stays here; conversions and filters are compat's, and the engine does the
// work through the small Backend interface.
package volume

import (
	"context"
	"net/http"

	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	enginevolume "github.com/pier-vm/pier/engine/volume"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is what the volume routes need from the engine
// (*engine.Containers is one).
type Backend interface {
	VolumeCreate(ctx context.Context, name, driver string, labels, opts map[string]string) (enginevolume.Volume, error)
	VolumeList() []engine.VolumeInfo
	VolumeInspect(name string) (engine.VolumeInfo, error)
	VolumeRemove(ctx context.Context, name string, force bool) error
	VolumePrune(ctx context.Context, match func(enginevolume.Volume) bool, all bool) ([]string, uint64, error)
}

// Router serves the volume routes.
type Router struct{ backend Backend }

// NewRouter returns the volume router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the volume routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/volumes", Handler: r.list},
		{Method: http.MethodGet, Path: "/volumes/{name:.*}", Handler: r.inspect},
		{Method: http.MethodPost, Path: "/volumes/create", Handler: r.create},
		{Method: http.MethodPost, Path: "/volumes/prune", Handler: r.prune},
		{Method: http.MethodDelete, Path: "/volumes/{name:.*}", Handler: r.remove},
	}
}

func (r *Router) list(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	f, err := compat.NewVolumeListFilter(args)
	if err != nil {
		return err
	}
	out := volume.ListResponse{Volumes: []*volume.Volume{}}
	for _, v := range r.backend.VolumeList() {
		if f.Match(v) {
			out.Volumes = append(out.Volumes, compat.Volume(v))
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

func (r *Router) inspect(w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	v, err := r.backend.VolumeInspect(vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, compat.Volume(v))
}

func (r *Router) create(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	var body volume.CreateOptions
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	v, err := r.backend.VolumeCreate(req.Context(), body.Name, body.Driver, body.Labels, body.DriverOpts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, compat.Volume(engine.VolumeInfo{Volume: v}))
}

func (r *Router) remove(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.VolumeRemove(req.Context(), vars["name"], httputils.BoolValue(req, "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) prune(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	// Before API 1.42 prune took named volumes too, as if all=true.
	if v := httputils.VersionFromContext(req.Context()); v != "" && versions.LessThan(v, "1.42") {
		args.Add("all", "true")
	}
	match, all, err := compat.VolumePruneFilter(args)
	if err != nil {
		return err
	}
	removed, reclaimed, err := r.backend.VolumePrune(req.Context(), match, all)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: removed, SpaceReclaimed: reclaimed})
}
