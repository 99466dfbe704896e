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
// builder serves BuildKit (nil: the build routes are only the cache prune).
func Routers(eng *engine.Engine, builder buildrouter.Backend, opts systemrouter.Options) []httputils.Router {
	opts.BuildKit = builder != nil
	return []httputils.Router{
		systemrouter.NewRouter(eng, opts),
		systemrouter.NewAuthRouter(eng),
		systemrouter.NewDiskUsageRouter(eng),
		imagerouter.NewRouter(eng),
		containerrouter.NewRouter(eng),
		execrouter.NewRouter(eng),
		networkrouter.NewRouter(eng),
		volumerouter.NewRouter(eng),
		eventsrouter.NewRouter(eng),
		buildrouter.NewRouter(builder),
		unsupported.NewRouter(), // last: the first matching route wins
	}
}
