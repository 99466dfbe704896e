package container

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/moby/term"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// getContainersLogs validates everything, then streams the log: stdcopy
// frames without a TTY, raw bytes with one.
func (r *Router) getContainersLogs(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	opts := engine.LogsOptions{
		Stdout: httputils.BoolValue(req, "stdout"),
		Stderr: httputils.BoolValue(req, "stderr"),
		Follow: httputils.BoolValue(req, "follow"),
		Tail:   parseTail(req.FormValue("tail")),
	}
	if !opts.Stdout && !opts.Stderr {
		return errdefs.InvalidParameterf("Bad parameters: you must choose at least one stream")
	}
	var err error
	if opts.Since, err = compat.ParseTimestamp(req.FormValue("since")); err != nil {
		return err
	}
	if opts.Until, err = compat.ParseTimestamp(req.FormValue("until")); err != nil {
		return err
	}
	timestamps := httputils.BoolValue(req, "timestamps")
	info, err := r.backend.ContainerInspect(vars["name"])
	if err != nil {
		return err
	}
	tty := info.Config.Tty

	out := httputils.NewFlushWriter(w)
	stdout, stderr := streamWriters(out, tty)
	answered := false
	opts.Ready = func() {
		if answered {
			return
		}
		answered = true
		w.Header().Set("Content-Type", httputils.StreamMediaType(req.Context(), tty))
		w.WriteHeader(http.StatusOK)
		out.Write(nil) // flush the header so followers see it at once
	}
	err = r.backend.ContainerLogs(req.Context(), info.ID, opts, func(e engine.LogEntry) error {
		opts.Ready()
		dst := stdout
		if e.Stream == "stderr" {
			dst = stderr
		}
		line := e.Line
		if timestamps {
			line = append([]byte(e.Time.UTC().Format(jsonmessage.RFC3339NanoFixed)+" "), line...)
		}
		_, err := dst.Write(line)
		return err
	})
	if err != nil && !answered {
		return err // before the head: a JSON error with its status
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error grabbing logs: %v\n", err)
	}
	return nil
}

// parseTail reads the tail parameter: "all", empty or invalid mean all.
func parseTail(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// streamWriters returns the writers of stdout and stderr on a stream: the
// stream itself with a TTY, stdcopy frames without.
func streamWriters(w io.Writer, tty bool) (stdout, stderr io.Writer) {
	if tty {
		return w, w
	}
	return stdcopy.NewStdWriter(w, stdcopy.Stdout), stdcopy.NewStdWriter(w, stdcopy.Stderr)
}

// postContainersAttach hijacks the connection and connects it to the
// container's stdio.
func (r *Router) postContainersAttach(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	info, err := r.backend.ContainerInspect(vars["name"])
	if err != nil {
		return err
	}
	wantStdin := httputils.BoolValue(req, "stdin")
	wantStdout := httputils.BoolValue(req, "stdout")
	wantStderr := httputils.BoolValue(req, "stderr")
	if !wantStdin && !wantStdout && !wantStderr {
		return errdefs.InvalidParameterf("Bad parameters: you must choose at least one stream")
	}
	if keys := req.FormValue("detachKeys"); keys != "" && !validDetachKeys(keys) {
		return errdefs.InvalidParameterf("Invalid detach keys (%s) provided", keys)
	}
	if info.State.Paused {
		// Before the hijack, so the client gets dockerd's 409.
		return errdefs.Conflictf("container %s is paused, unpause the container before attach", vars["name"])
	}
	tty := info.Config.Tty
	hj, respond, err := httputils.HijackDeferred(w, req, httputils.StreamMediaType(req.Context(), tty))
	if err != nil {
		return err
	}
	defer hj.Close()

	stdout, stderr := streamWriters(hj.Conn, tty)
	opts := engine.AttachOptions{Logs: httputils.BoolValue(req, "logs"), Stream: httputils.BoolValue(req, "stream")}
	if wantStdin {
		opts.Stdin = hj.In
	}
	if wantStdout {
		opts.Stdout = stdout
	}
	if wantStderr {
		opts.Stderr = stderr
	}
	// The head goes out once the attach is registered (or failed).
	opts.Attached = func() { _ = respond() }
	if err := r.backend.ContainerAttach(req.Context(), info.ID, opts); err != nil {
		_ = respond()
		fmt.Fprintf(stderr, "Error attaching: %v\n", err)
	}
	_ = respond()
	return nil
}

// validDetachKeys accepts what dockerd accepts: comma-separated single
// characters, ctrl-<key> sequences and DEL (the docker CLI's parser).
// pier does not act on them.
func validDetachKeys(keys string) bool {
	_, err := term.ToBytes(keys)
	return err == nil
}
