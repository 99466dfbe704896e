// Package build serves what pier has of the build routes: pier has no
// builder yet, so its build cache is always empty and pruning it (`docker
// builder prune`, and the last step of `docker system prune`) succeeds
// with nothing deleted. POST /build itself is package unsupported's.
package build

import (
	"net/http"

	buildtypes "github.com/docker/docker/api/types/build"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/server/httputils"
)

// Router serves the build cache routes.
type Router struct{}

// NewRouter returns the build cache router.
func NewRouter() *Router { return &Router{} }

// Routes lists the build cache routes.
func (*Router) Routes() []httputils.Route {
	return []httputils.Route{{Method: http.MethodPost, Path: "/build/prune", Handler: postBuildPrune}}
}

// postBuildPrune prunes the empty build cache: filters must parse, as in
// dockerd; all, reserved-space and the other sizes change nothing.
func postBuildPrune(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if _, err := compat.ParseFilters(req.FormValue("filters")); err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, buildtypes.CachePruneReport{})
}
