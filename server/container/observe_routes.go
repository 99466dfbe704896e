package container

import (
	"encoding/json"
	"net/http"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/versions"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/server/httputils"
)

// Looking at running containers: docker stats, docker top, docker pause
// and unpause.

// boolValueOr reads a boolean query parameter, def when it is absent.
func boolValueOr(req *http.Request, key string, def bool) bool {
	if _, ok := req.Form[key]; !ok {
		return def
	}
	return httputils.BoolValue(req, key)
}

func (r *Router) getContainersStats(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return err
	}
	opts := engine.StatsOptions{Stream: boolValueOr(req, "stream", true)}
	if versions.GreaterThanOrEqualTo(httputils.VersionFromContext(req.Context()), "1.41") {
		opts.OneShot = boolValueOr(req, "one-shot", false)
	}
	var enc *json.Encoder
	return r.backend.ContainerStats(req.Context(), vars["name"], opts, func(e engine.StatsEntry) error {
		if enc == nil {
			// The first sample: the request was fine.
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			if opts.Stream {
				enc = json.NewEncoder(httputils.NewFlushWriter(w))
			} else {
				enc = json.NewEncoder(w)
			}
		}
		return enc.Encode(compat.ContainerStats(e))
	})
}

func (r *Router) getContainersTop(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	res, err := r.backend.ContainerTop(req.Context(), vars["name"], req.FormValue("ps_args"))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, container.TopResponse{Titles: res.Titles, Processes: res.Processes})
}

func (r *Router) postContainersPause(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.ContainerPause(req.Context(), vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) postContainersUnpause(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.ContainerUnpause(req.Context(), vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
