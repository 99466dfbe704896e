package container

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/versions"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

func (r *Router) postContainersCreate(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body container.CreateRequest
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.InvalidParameterf("config cannot be empty in order to create a container")
		}
		return errdefs.InvalidParameter(err)
	}
	cfg, hc, err := compat.ContainerConfigFromAPI(body.Config, body.HostConfig)
	if err != nil {
		return err
	}
	legacy := versions.LessThan(httputils.VersionFromContext(req.Context()), "1.44")
	endpoints, warning, err := compat.ContainerEndpointsFromAPI(body.Config, body.HostConfig, body.NetworkingConfig, legacy)
	if err != nil {
		return err
	}
	create := engine.CreateRequest{Name: req.FormValue("name"), Config: cfg, HostConfig: hc, Endpoints: endpoints}
	if p := req.FormValue("platform"); p != "" {
		plat, err := platform.Parse(p)
		if err != nil {
			return err
		}
		create.Platform = &plat
	}
	res, err := r.backend.ContainerCreate(req.Context(), create)
	if err != nil {
		return err
	}
	warnings := res.Warnings
	if warning != "" {
		warnings = append(warnings, warning)
	}
	return httputils.WriteJSON(w, http.StatusCreated, container.CreateResponse{ID: res.ID, Warnings: warnings})
}

func (r *Router) getContainersByName(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	info, err := r.backend.ContainerInspect(vars["name"])
	if err != nil {
		return err
	}
	resp := compat.ContainerInspect(info)
	if versions.LessThan(httputils.VersionFromContext(req.Context()), "1.45") {
		compat.AddLegacyAliases(&resp)
	}
	if httputils.BoolValue(req, "size") {
		rw, rootFs, err := r.backend.ContainerSize(info.ID)
		if err != nil {
			return err
		}
		resp.SizeRw, resp.SizeRootFs = &rw, &rootFs
	}
	return httputils.WriteJSON(w, http.StatusOK, resp)
}

func (r *Router) getContainersJSON(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	filter, any, err := compat.ContainerListFilter(args)
	if err != nil {
		return err
	}
	opts := engine.ListOptions{All: httputils.BoolValue(req, "all"), Filter: filter}
	if v := req.FormValue("limit"); v != "" {
		if opts.Limit, err = strconv.Atoi(v); err != nil {
			return errdefs.InvalidParameterf("invalid limit %q", v)
		}
	}
	out := []container.Summary{}
	if any {
		list, err := r.backend.ContainerList(opts)
		if err != nil {
			return err
		}
		now := time.Now()
		withSize := httputils.BoolValue(req, "size")
		for _, s := range list {
			sum := compat.ContainerSummary(s, now)
			if withSize {
				// A container removed meanwhile just has no size.
				if rw, rootFs, err := r.backend.ContainerSize(s.ID); err == nil {
					sum.SizeRw, sum.SizeRootFs = rw, rootFs
				}
			}
			out = append(out, sum)
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

func (r *Router) postContainersStart(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.ContainerStart(req.Context(), vars["name"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopOptions reads the t and signal parameters of stop and restart.
func stopOptions(req *http.Request) (engine.StopOptions, error) {
	opts := engine.StopOptions{Signal: req.FormValue("signal")}
	if v := req.FormValue("t"); v != "" {
		t, err := strconv.Atoi(v)
		if err != nil {
			return opts, errdefs.InvalidParameterf("invalid value for t: %q", v)
		}
		opts.Timeout = &t
	}
	return opts, nil
}

func (r *Router) postContainersStop(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts, err := stopOptions(req)
	if err != nil {
		return err
	}
	if err := r.backend.ContainerStop(req.Context(), vars["name"], opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) postContainersRestart(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts, err := stopOptions(req)
	if err != nil {
		return err
	}
	if err := r.backend.ContainerRestart(req.Context(), vars["name"], opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) postContainersKill(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.ContainerKill(req.Context(), vars["name"], req.FormValue("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// postContainersWait answers the status line at once (clients wait for it
// before starting the container), then the exit status when it comes.
func (r *Router) postContainersWait(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	results, err := r.backend.ContainerWait(req.Context(), vars["name"], req.FormValue("condition"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	res, ok := <-results
	if !ok {
		return nil // the client went away
	}
	out := container.WaitResponse{StatusCode: int64(res.StatusCode)}
	if res.Error != "" {
		out.Error = &container.WaitExitError{Message: res.Error}
	}
	return json.NewEncoder(w).Encode(out)
}

func (r *Router) postContainersResize(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	height, err := strconv.ParseUint(req.FormValue("h"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameterf("invalid resize height %q", req.FormValue("h"))
	}
	width, err := strconv.ParseUint(req.FormValue("w"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameterf("invalid resize width %q", req.FormValue("w"))
	}
	if err := r.backend.ContainerResize(req.Context(), vars["name"], uint(height), uint(width)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) deleteContainers(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if httputils.BoolValue(req, "link") {
		return errdefs.InvalidParameterf("legacy links are not supported")
	}
	opts := engine.RemoveOptions{Force: httputils.BoolValue(req, "force"), RemoveVolumes: httputils.BoolValue(req, "v")}
	if err := r.backend.ContainerRemove(req.Context(), vars["name"], opts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) postContainerRename(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.ContainerRename(vars["name"], req.FormValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (r *Router) postContainerUpdate(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var body container.UpdateConfig
	if err := json.NewDecoder(req.Body).Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		return errdefs.InvalidParameter(err)
	}
	res, err := r.backend.ContainerUpdate(vars["name"], compat.ContainerUpdateFromAPI(body))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, container.UpdateResponse{Warnings: res.Warnings})
}

func (r *Router) postContainersPrune(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	opts, err := compat.PruneFilter(args, time.Now())
	if err != nil {
		return err
	}
	res, err := r.backend.ContainerPrune(req.Context(), opts)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, container.PruneReport{ContainersDeleted: res.Deleted, SpaceReclaimed: res.SpaceReclaimed})
}
