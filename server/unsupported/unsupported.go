// Package unsupported answers the Docker Engine API routes pier does not
// serve (yet) with a clear error instead of "page not found": 501 with
// what is missing, or dockerd's own answer where dockerd refuses too (a
// cluster volume update without swarm). Mount its router after every other
// router: the first route that matches wins, so a route that another router
// serves is never answered here.
package unsupported

import (
	"errors"
	"net/http"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// route is one unserved route and its error.
type route struct {
	method, path string
	err          error
}

func notImplemented(msg string) error { return errdefs.NotImplemented(errors.New(msg)) }

// routes are the unserved routes outside swarm and plugins. Remove an entry
// when a router serves the route.
var routes = []route{
	{http.MethodGet, "/containers/{name:.*}/attach/ws", notImplemented("attaching over a websocket is not supported by pier: use POST /containers/{id}/attach")},
	{http.MethodPost, "/build", notImplemented("this pierd has no image builder: its builder root file system was not built (make builder), so docker build is not served")},
	{http.MethodPost, "/session", notImplemented("this pierd has no image builder (make builder), so BuildKit sessions are not served")},
	{http.MethodPost, "/grpc", notImplemented("this pierd has no image builder (make builder), so BuildKit is not served")},
	// dockerd answers the same when swarm is not active.
	{http.MethodPut, "/volumes/{name:.*}", errdefs.Unavailable(errors.New("volume update only valid for cluster volumes, but swarm is unavailable"))},
}

// Router answers the unserved routes.
type Router struct{}

// NewRouter returns the router of the unserved routes.
func NewRouter() *Router { return &Router{} }

// Routes lists the unserved routes, each answering its error.
func (*Router) Routes() []httputils.Route {
	out := make([]httputils.Route, 0, len(routes))
	for _, rt := range routes {
		err := rt.err
		out = append(out, httputils.Route{Method: rt.method, Path: rt.path, Handler: func(http.ResponseWriter, *http.Request, map[string]string) error {
			return err
		}})
	}
	return out
}
