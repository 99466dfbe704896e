// Package image serves the /images routes: pull and push with Docker's
// progress stream, list, inspect, history, tag, remove, prune, save, load
// and search; and GET /distribution/{name}/json, a registry's view of an
// image.
package image

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	engineimage "github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// Backend is what the image routes need from the engine.
type Backend interface {
	Images() engineimage.API
	ImageRemove(ref string, force, noPrune bool) ([]engineimage.DeleteItem, error)
	ImagePrune(danglingOnly bool, opts engine.PruneOptions) ([]engineimage.DeleteItem, int64, error)
	ImageImport(ctx context.Context, opts engine.ImportOptions) (string, error)
}

// Router serves the image routes.
type Router struct{ backend Backend }

// NewRouter returns the image router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the image routes. Names may contain slashes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		// An upload: docker import sends the tarball as the body.
		{Method: http.MethodPost, Path: "/images/create", Handler: r.postImagesCreate, Upload: true},
		{Method: http.MethodGet, Path: "/images/json", Handler: r.getImagesJSON},
		{Method: http.MethodGet, Path: "/images/get", Handler: r.getImagesGet},
		{Method: http.MethodPost, Path: "/images/load", Handler: r.postImagesLoad, Upload: true},
		{Method: http.MethodPost, Path: "/images/prune", Handler: r.postImagesPrune},
		{Method: http.MethodGet, Path: "/images/search", Handler: r.getImagesSearch},
		{Method: http.MethodGet, Path: "/images/{name:.*}/history", Handler: r.getImagesHistory},
		{Method: http.MethodPost, Path: "/images/{name:.*}/push", Handler: r.postImagesPush},
		{Method: http.MethodGet, Path: "/distribution/{name:.*}/json", Handler: r.getDistributionInfo},
		{Method: http.MethodGet, Path: "/images/{name:.*}/json", Handler: r.getImagesByName},
		{Method: http.MethodGet, Path: "/images/{name:.*}/get", Handler: r.getImagesGet},
		{Method: http.MethodPost, Path: "/images/{name:.*}/tag", Handler: r.postImagesTag},
		{Method: http.MethodDelete, Path: "/images/{name:.*}", Handler: r.deleteImages},
	}
}

// decodeAuth reads X-Registry-Auth (base64url JSON); bad input is ignored
// like dockerd does for an empty header, and rejected otherwise.
func decodeAuth(header string) (*engineimage.Auth, error) {
	if header == "" {
		return nil, nil
	}
	raw, err := base64.URLEncoding.DecodeString(header)
	if err != nil {
		if raw, err = base64.StdEncoding.DecodeString(header); err != nil {
			return nil, errdefs.InvalidParameterf("invalid X-Registry-Auth header: %v", err)
		}
	}
	var a registry.AuthConfig
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, errdefs.InvalidParameterf("invalid X-Registry-Auth header: %v", err)
	}
	return &engineimage.Auth{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken, ServerAddress: a.ServerAddress}, nil
}

// progressWriter is a JSON stream that also shows pull and push progress.
type progressWriter struct {
	*httputils.JSONStream
}

func newProgressWriter(w http.ResponseWriter) progressWriter {
	return progressWriter{httputils.NewJSONStream(w)}
}

func (p progressWriter) progress(pr engineimage.Progress) {
	m := jsonmessage.JSONMessage{ID: pr.ID, Status: pr.Status}
	if pr.Total > 0 || pr.Current > 0 {
		m.Progress = &jsonmessage.JSONProgress{Current: pr.Current, Total: pr.Total}
	} else if pr.ID != "" {
		m.Progress = &jsonmessage.JSONProgress{}
	}
	p.Write(m)
}

// finish reports err in the stream when the stream has begun; otherwise it
// hands err back for a normal error response. A success without any
// output says Done.
func (p progressWriter) finish(err error) error {
	if err == nil && !p.Started() {
		p.Write(jsonmessage.JSONMessage{Status: "Done"})
	}
	return p.Fail(err)
}

func (r *Router) postImagesCreate(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err)
	}
	from, tag := req.Form.Get("fromImage"), req.Form.Get("tag")
	if from == "" {
		if req.Form.Get("fromSrc") != "" {
			return r.importImage(w, req)
		}
		return errdefs.InvalidParameterf("fromImage is required")
	}
	ref := from
	if tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref = from + "@" + tag
		} else {
			ref = from + ":" + tag
		}
	}
	var plat *platform.Platform
	if s := req.Form.Get("platform"); s != "" {
		p, err := platform.Parse(s)
		if err != nil {
			return err
		}
		plat = &p
	}
	auth, err := decodeAuth(req.Header.Get("X-Registry-Auth"))
	if err != nil {
		return err
	}
	pw := newProgressWriter(w)
	_, err = r.backend.Images().Pull(req.Context(), ref, plat, auth, pw.progress)
	return pw.finish(err)
}

func (r *Router) getImagesJSON(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	resolve := func(ref string) (*engineimage.Image, error) { return r.backend.Images().Resolve(ref, nil) }
	filter, err := compat.NewImageListFilter(args, httputils.BoolValue(req, "all"), resolve)
	if err != nil {
		return err
	}
	imgs, err := r.backend.Images().List()
	if err != nil {
		return err
	}
	out := []imagetypes.Summary{}
	for _, img := range imgs {
		if filter.Match(img) {
			out = append(out, filter.Summary(img))
		}
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

func (r *Router) getImagesByName(w http.ResponseWriter, _ *http.Request, vars map[string]string) error {
	img, err := r.backend.Images().Resolve(vars["name"], nil)
	if err != nil {
		return err
	}
	return httputils.WriteJSON(w, http.StatusOK, compat.ImageInspect(img))
}

func (r *Router) postImagesTag(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := r.backend.Images().Tag(vars["name"], req.FormValue("repo"), req.FormValue("tag")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Router) deleteImages(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	items, err := r.backend.ImageRemove(vars["name"], httputils.BoolValue(req, "force"), httputils.BoolValue(req, "noprune"))
	if err != nil {
		return err
	}
	out := make([]imagetypes.DeleteResponse, 0, len(items))
	for _, it := range items {
		out = append(out, imagetypes.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted})
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}

func (r *Router) postImagesPrune(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	args, err := compat.ParseFilters(req.FormValue("filters"))
	if err != nil {
		return err
	}
	if err := args.Validate(map[string]bool{"dangling": true, "until": true, "label": true, "label!": true}); err != nil {
		return errdefs.InvalidParameter(err)
	}
	// Like dockerd, only dangling images unless dangling=false is asked.
	danglingOnly, err := args.GetBoolOrDefault("dangling", true)
	if err != nil {
		return errdefs.InvalidParameter(err)
	}
	for _, v := range args.Get("dangling") {
		args.Del("dangling", v)
	}
	opts, err := compat.PruneFilter(args, time.Now())
	if err != nil {
		return err
	}
	items, reclaimed, err := r.backend.ImagePrune(danglingOnly, opts)
	if err != nil {
		return err
	}
	rep := imagetypes.PruneReport{ImagesDeleted: []imagetypes.DeleteResponse{}, SpaceReclaimed: uint64(reclaimed)}
	for _, it := range items {
		rep.ImagesDeleted = append(rep.ImagesDeleted, imagetypes.DeleteResponse{Untagged: it.Untagged, Deleted: it.Deleted})
	}
	return httputils.WriteJSON(w, http.StatusOK, rep)
}

func (r *Router) getImagesGet(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err)
	}
	names := req.Form["names"]
	if n := vars["name"]; n != "" {
		names = []string{n}
	}
	if len(names) == 0 {
		return errdefs.InvalidParameterf("no image names given")
	}
	for _, n := range names {
		if _, err := r.backend.Images().Resolve(n, nil); err != nil {
			return err
		}
	}
	return saveStream(req.Context(), r.backend.Images(), names, w)
}

// lazyWriter sends the 200 header with the first byte, so an error before
// any output is still a normal JSON error.
type lazyWriter struct {
	w       http.ResponseWriter
	ctype   string
	started bool
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.w.Header().Set("Content-Type", l.ctype)
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(b)
}

// saveStream writes the tarball of names. An error before the first byte
// is answered as an error; after it the status cannot change, and the
// client sees a truncated tarball, as with dockerd.
func saveStream(ctx context.Context, images engineimage.API, names []string, w http.ResponseWriter) error {
	lw := &lazyWriter{w: w, ctype: "application/x-tar"}
	err := images.Save(ctx, names, lw)
	if err != nil && !lw.started {
		return err
	}
	if !lw.started {
		lw.Write(nil)
	}
	return nil
}

func (r *Router) postImagesLoad(w http.ResponseWriter, req *http.Request, _ map[string]string) error {
	quiet := httputils.BoolValue(req, "quiet")
	pw := newProgressWriter(w)
	_, err := r.backend.Images().Load(req.Context(), req.Body, func(p engineimage.Progress) {
		if !quiet || strings.HasPrefix(p.Status, "Loaded image") {
			pw.Write(jsonmessage.JSONMessage{Stream: p.Status + "\n"})
		}
	})
	return pw.finish(err)
}
