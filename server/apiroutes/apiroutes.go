// Package apiroutes lists the routers pierd serves, in the order they are
// mounted: every resource router over the engine, then the routes pier
// does not serve (package unsupported), which must come last.
package apiroutes

import (
	"github.com/pier-vm/pier/engine"
	buildrouter "github.com/pier-vm/pier/server/build"
	containerrouter "github.com/pier-vm/pier/server/container"
	eventsrouter "github.com/pier-vm/pier/server/events"
	execrouter "github.com/pier-vm/pier/server/exec"
	"github.com/pier-vm/pier/server/httputils"
	imagerouter "github.com/pier-vm/pier/server/image"
	networkrouter "github.com/pier-vm/pier/server/network"
	systemrouter "github.com/pier-vm/pier/server/system"
	"github.com/pier-vm/pier/server/unsupported"
	volumerouter "github.com/pier-vm/pier/server/volume"
)

// Routers returns the routers of the Docker Engine API over eng.
// Builder is the image builder the build routes and docker system df use.
type Builder interface {
	buildrouter.Backend
	systemrouter.BuildCacheBackend
}

// builder serves BuildKit (nil: the build routes are only the prune of an
// empty cache).
func Routers(eng *engine.Engine, builder Builder, opts systemrouter.Options) []httputils.Router {
	opts.BuildKit = builder != nil
	var buildBackend buildrouter.Backend
	var cache systemrouter.BuildCacheBackend
	if builder != nil {
		buildBackend, cache = builder, builder
	}
	return []httputils.Router{
		systemrouter.NewRouter(eng, opts),
		systemrouter.NewAuthRouter(eng),
		systemrouter.NewDiskUsageRouter(eng, cache),
		imagerouter.NewRouter(eng),
		containerrouter.NewRouter(eng),
		execrouter.NewRouter(eng),
		networkrouter.NewRouter(eng),
		volumerouter.NewRouter(eng),
		eventsrouter.NewRouter(eng),
		buildrouter.NewRouter(buildBackend),
		unsupported.NewRouter(), // last: the first matching route wins
	}
}
