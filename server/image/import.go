package image

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/pier-vm/pier/compat"
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// importImage is docker import: POST /images/create?fromSrc=-|URL&repo=
// &tag=&message=&changes= (repeated)&platform=, with the tarball as the
// body (fromSrc "-") or fetched from the URL (http:// when it has no
// scheme, as dockerd). The answer is dockerd's one status line with the
// new image's ID; every error comes before it, as a JSON error.
func (r *Router) importImage(w http.ResponseWriter, req *http.Request) error {
	tag, err := compat.CommitTag(req.Form.Get("repo"), req.Form.Get("tag"))
	if err != nil {
		return err
	}
	var plat platform.Platform
	if s := req.Form.Get("platform"); s != "" {
		if plat, err = platform.Parse(s); err != nil {
			return err
		}
	}
	src := req.Form.Get("fromSrc")
	body := io.Reader(req.Body)
	if src != "-" {
		rc, err := fetchTarball(req, src)
		if err != nil {
			return err
		}
		defer rc.Close()
		body = rc
	}
	id, err := r.backend.ImageImport(req.Context(), engine.ImportOptions{
		Source:     body,
		SourceName: src,
		Message:    req.Form.Get("message"),
		Tag:        tag,
		Changes:    req.Form["changes"],
		Platform:   plat,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(jsonmessage.JSONMessage{Status: id})
}

// fetchTarball GETs an import's source URL. Transport errors and error
// statuses are dockerd's 500s with its words.
func fetchTarball(req *http.Request, src string) (io.ReadCloser, error) {
	if !strings.Contains(src, "://") {
		src = "http://" + src
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errdefs.InvalidParameterf("invalid import source %q: want -, or an http or https URL", req.Form.Get("fromSrc"))
	}
	greq, err := http.NewRequestWithContext(req.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	res, err := http.DefaultClient.Do(greq)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 400 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		res.Body.Close()
		return nil, fmt.Errorf("failed to GET %s with status %s: %s", u, res.Status, strings.TrimSpace(string(b)))
	}
	return res.Body, nil
}
