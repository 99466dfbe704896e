// Package exec serves the exec routes of the Docker Engine API: create an
// exec in a container, start it (hijacked, or detached), resize its
// terminal and inspect it.
package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/docker/docker/api/types/common"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/moby/term"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is what the exec routes need from the engine.
type Backend interface {
	ExecCreate(ref string, cfg engine.ExecConfig) (string, error)
	ExecInspect(id string) (*engine.ExecInfo, error)
	ExecStart(ctx context.Context, id string, opts engine.ExecStartOptions) error
	ExecResize(ctx context.Context, id string, height, width uint) error
}

// Router serves the exec routes.
type Router struct {
	backend Backend
}

// NewRouter returns the exec router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the exec routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: "POST", Path: "/containers/{name:.*}/exec", Handler: r.postContainerExecCreate},
		{Method: "POST", Path: "/exec/{name:.*}/start", Handler: r.postContainerExecStart},
		{Method: "POST", Path: "/exec/{name:.*}/resize", Handler: r.postContainerExecResize},
		{Method: "GET", Path: "/exec/{name:.*}/json", Handler: r.getExecByID},
	}
}

func (r *Router) postContainerExecCreate(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var opts container.ExecOptions
	if err := json.NewDecoder(req.Body).Decode(&opts); err != nil {
		if errors.Is(err, io.EOF) {
			return errdefs.InvalidParameterf("No exec command specified")
		}
		return errdefs.InvalidParameter(err)
	}
	if opts.DetachKeys != "" {
		if _, err := term.ToBytes(opts.DetachKeys); err != nil {
			// dockerd's words; its status is a 500, pier's a 400.
			return errdefs.InvalidParameterf("Invalid escape keys (%s) provided", opts.DetachKeys)
		}
	}
	id, err := r.backend.ExecCreate(vars["name"], compat.ExecConfigFromAPI(opts))
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusCreated, common.IDResponse{ID: id})
}

// postContainerExecStart checks the exec, then runs it detached or over a
// hijacked connection; errors after the hijack travel in the stream.
func (r *Router) postContainerExecStart(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var opts container.ExecStartOptions
	if err := json.NewDecoder(req.Body).Decode(&opts); err != nil && !errors.Is(err, io.EOF) {
		return errdefs.InvalidParameter(err)
	}
	info, err := r.backend.ExecInspect(vars["name"])
	if err != nil {
		return err
	}
	if info.Running || info.ExitCode != nil {
		return errdefs.Conflictf("Error: Exec command %s is already running", info.ID)
	}
	start := engine.ExecStartOptions{Detach: opts.Detach, ConsoleSize: opts.ConsoleSize}
	if opts.Detach {
		if err := r.backend.ExecStart(req.Context(), info.ID, start); err != nil {
			return err
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}

	tty := info.Config.Tty
	hj, err := httputils.Hijack(w, req, httputils.StreamMediaType(req.Context(), tty))
	if err != nil {
		return err
	}
	defer hj.Close()
	start.Stdin = hj.In
	if tty {
		start.Stdout, start.Stderr = hj.Conn, hj.Conn
	} else {
		start.Stdout = stdcopy.NewStdWriter(hj.Conn, stdcopy.Stdout)
		start.Stderr = stdcopy.NewStdWriter(hj.Conn, stdcopy.Stderr)
	}
	if err := r.backend.ExecStart(req.Context(), info.ID, start); err != nil {
		fmt.Fprintf(start.Stderr, "%v\r\n", err)
	}
	return nil
}

func (r *Router) postContainerExecResize(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	height, err := strconv.ParseUint(req.FormValue("h"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameterf("invalid resize height %q", req.FormValue("h"))
	}
	width, err := strconv.ParseUint(req.FormValue("w"), 10, 32)
	if err != nil {
		return errdefs.InvalidParameterf("invalid resize width %q", req.FormValue("w"))
	}
	if err := r.backend.ExecResize(req.Context(), vars["name"], uint(height), uint(width)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) getExecByID(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	info, err := r.backend.ExecInspect(vars["name"])
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, compat.ExecInspect(info))
}
