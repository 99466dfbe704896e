package network

import (
	"net/http"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/versions"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// getNetworksList answers `docker network ls`. Before API 1.28 dockerd
// listed each network's containers too; since, Containers is empty.
func (r *Router) getNetworksList(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	filter, err := compat.NewNetworkListFilter(args)
	if err != nil {
		return err
	}
	detailed := versions.LessThan(httputils.VersionFromContext(req.Context()), "1.28")
	out := []network.Summary{}
	for _, info := range r.backend.NetworkList() {
		if filter.Match(info) {
			out = append(out, compat.NetworkInspect(info, detailed))
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

// getNetwork answers `docker network inspect`: by full ID, name, then
// unique ID prefix. verbose only adds swarm services, which pier has none
// of; a scope other than local finds nothing, as every network is local.
func (r *Router) getNetwork(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	ref := vars["id"]
	if v := req.URL.Query().Get("verbose"); v != "" {
		if _, err := strconv.ParseBool(v); err != nil {
			return errdefs.InvalidParameterf("invalid value for verbose: %s", v)
		}
	}
	if s := req.URL.Query().Get("scope"); s != "" && s != "local" {
		return errdefs.NotFoundf("network %s not found", ref)
	}
	info, err := r.backend.NetworkInspect(ref)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, compat.NetworkInspect(info, true))
}

func (r *Router) postNetworkCreate(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body network.CreateRequest
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	if versions.LessThan(httputils.VersionFromContext(req.Context()), "1.48") {
		body.EnableIPv4 = nil // added in API 1.48
	}
	create, err := compat.NetworkCreateFromAPI(body)
	if err != nil {
		return err
	}
	n, err := r.backend.NetworkCreate(req.Context(), create)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

// deleteNetwork answers `docker network rm`: 403 for the predefined
// networks and for a network a running container uses.
func (r *Router) deleteNetwork(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.NetworkRemove(req.Context(), vars["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// postNetworksPrune removes the unused user-defined networks that match
// the filters (until, label, label!).
func (r *Router) postNetworksPrune(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	match, err := compat.NetworkPruneFilter(args, time.Now())
	if err != nil {
		return err
	}
	removed, err := r.backend.NetworkPrune(req.Context(), match)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: removed})
}

// postNetworkConnect connects a container; like dockerd it answers 200
// with an empty body.
func (r *Router) postNetworkConnect(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body network.ConnectOptions
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	ep, err := compat.EndpointFromAPI(body.EndpointConfig)
	if err != nil {
		return err
	}
	if err := r.backend.NetworkConnect(req.Context(), vars["id"], body.Container, ep); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// postNetworkDisconnect disconnects a container; 200 with an empty body.
func (r *Router) postNetworkDisconnect(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body network.DisconnectOptions
	if err := httputils.ReadJSON(req, &body); err != nil {
		return err
	}
	if err := r.backend.NetworkDisconnect(req.Context(), vars["id"], body.Container, body.Force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
