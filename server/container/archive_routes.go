package container

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"

	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// The archive API (docker cp), docker diff and docker export.

// pathStatHeader carries a path's description, base64 JSON.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// archivePath reads the path query parameter, with dockerd's (sic) error.
func archivePath(req *http.Request) (string, error) {
	p := req.URL.Query().Get("path")
	if p == "" {
		return "", errdefs.InvalidParameterf("bad parameter: pathcannot be empty")
	}
	return p, nil
}

func setPathStat(h http.Header, st engine.PathStat) error {
	b, err := json.Marshal(container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.Mtime, LinkTarget: st.LinkTarget})
	if err != nil {
		return err
	}
	h.Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func (r *Router) headContainersArchive(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	st, err := r.backend.ContainerStatPath(req.Context(), vars["name"], p)
	if err != nil {
		return err
	}
	return setPathStat(w.Header(), st)
}

func (r *Router) getContainersArchive(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	st, rc, err := r.backend.ContainerArchivePath(req.Context(), vars["name"], p)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := setPathStat(w.Header(), st); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// After the 200, an error can only end the stream early.
	io.Copy(w, rc)
	return nil
}

func (r *Router) putContainersArchive(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	p, err := archivePath(req)
	if err != nil {
		return err
	}
	opts := engine.CopyOptions{
		NoOverwriteDirNonDir: httputils.BoolValue(req, "noOverwriteDirNonDir"),
		CopyUIDGID:           httputils.BoolValue(req, "copyUIDGID"),
	}
	if err := r.backend.ContainerExtractToDir(req.Context(), vars["name"], p, opts, req.Body); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (r *Router) getContainersExport(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	rc, err := r.backend.ContainerExport(req.Context(), vars["name"])
	if err != nil {
		return err
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	// After the 200, an error can only end the stream early.
	io.Copy(w, rc)
	return nil
}

func (r *Router) getContainersChanges(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	changes, err := r.backend.ContainerChanges(req.Context(), vars["name"])
	if err != nil {
		return err
	}
	out := make([]container.FilesystemChange, len(changes))
	for i, c := range changes {
		out[i] = container.FilesystemChange{Path: c.Path, Kind: container.ChangeType(c.Kind)}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
