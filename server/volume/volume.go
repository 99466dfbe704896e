// Package volume serves the /volumes routes of the Docker Engine API as far
// as pier goes today: there are no volumes (bind mounts and named volumes
// are not supported yet, and create refuses them), so the list is empty,
// a named volume is not found, prune deletes nothing, and create is 501.
// Clients that only look (Compose's `down`, testcontainers' cleanup) work.
package volume

import (
	"fmt"
	"net/http"

	"github.com/docker/docker/api/types/volume"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// Router serves the volume routes.
type Router struct{}

// NewRouter returns the volume router.
func NewRouter() *Router { return &Router{} }

// Routes lists the volume routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/volumes", Handler: list},
		{Method: http.MethodGet, Path: "/volumes/{name:.*}", Handler: inspect},
		{Method: http.MethodPost, Path: "/volumes/create", Handler: create},
		{Method: http.MethodPost, Path: "/volumes/prune", Handler: prune},
		{Method: http.MethodDelete, Path: "/volumes/{name:.*}", Handler: remove},
	}
}

// list answers `docker volume ls` (filters are checked, then match nothing).
func list(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if _, err := compat.ParseFilters(req.FormValue("filters")); err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, volume.ListResponse{Volumes: []*volume.Volume{}})
}

func inspect(_ http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return errNoSuchVolume(vars["name"])
}

func remove(_ http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	return errNoSuchVolume(vars["name"])
}

func errNoSuchVolume(name string) error {
	return errdefs.NotFoundf("get %s: no such volume", name)
}

func prune(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if _, err := compat.ParseFilters(req.FormValue("filters")); err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, volume.PruneReport{})
}

func create(_ http.ResponseWriter, _ *http.Request, _ map[string]string) error {
	return errdefs.NotImplemented(fmt.Errorf("volumes are not supported by pier yet: every container's files live in its VM's own disk"))
}
