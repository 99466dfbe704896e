// Package network serves the /networks routes of the Docker Engine API:
// list, inspect, create, remove, prune, connect and disconnect. HTTP stays
// here; conversions and filters are compat's, and the engine does the work
// through the small Backend interface.
package network

import (
	"context"
	"net/http"

	"github.com/pier-vm/pier/engine"
	enginecontainer "github.com/pier-vm/pier/engine/container"
	enginenetwork "github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is what the network routes need from the engine
// (*engine.Containers is one).
type Backend interface {
	NetworkCreate(ctx context.Context, req engine.NetworkCreateRequest) (enginenetwork.Network, error)
	NetworkInspect(ref string) (engine.NetworkInfo, error)
	NetworkList() []engine.NetworkInfo
	NetworkRemove(ctx context.Context, ref string) error
	NetworkPrune(ctx context.Context, match func(enginenetwork.Network) bool) ([]string, error)
	NetworkConnect(ctx context.Context, netRef, ctrRef string, req *enginecontainer.Endpoint) error
	NetworkDisconnect(ctx context.Context, netRef, ctrRef string, force bool) error
}

// Router serves the network routes.
type Router struct {
	backend Backend
}

// NewRouter returns the network router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the network routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: http.MethodGet, Path: "/networks", Handler: r.getNetworksList},
		{Method: http.MethodGet, Path: "/networks/", Handler: r.getNetworksList},
		{Method: http.MethodGet, Path: "/networks/{id:.+}", Handler: r.getNetwork},
		{Method: http.MethodPost, Path: "/networks/create", Handler: r.postNetworkCreate},
		{Method: http.MethodPost, Path: "/networks/prune", Handler: r.postNetworksPrune},
		{Method: http.MethodPost, Path: "/networks/{id:.*}/connect", Handler: r.postNetworkConnect},
		{Method: http.MethodPost, Path: "/networks/{id:.*}/disconnect", Handler: r.postNetworkDisconnect},
		{Method: http.MethodDelete, Path: "/networks/{id:.*}", Handler: r.deleteNetwork},
	}
}
