package image

import (
	"encoding/json"
	"net/http"

	"github.com/docker/docker/api/types/versions"
	"github.com/docker/docker/pkg/jsonmessage"

	engineimage "github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server/httputils"
)

// postImagesPush is `docker push`: name is the repository, tag the tag to
// push ("" pushes every tag, `docker push -a`), platform (API 1.46+) a
// JSON OCI platform the image must match. X-Registry-Auth carries the
// credentials; like dockerd, a header that does not decode is ignored.
// Progress is Docker's JSON stream, the pushed tags as `aux` objects;
// once it has begun, errors travel in it (errorDetail).
func (r *Router) postImagesPush(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	if err := req.ParseForm(); err != nil {
		return errdefs.InvalidParameter(err)
	}
	auth, _ := decodeAuth(req.Header.Get("X-Registry-Auth"))
	var plat *platform.Platform
	if versions.GreaterThanOrEqualTo(httputils.VersionFromContext(req.Context()), "1.46") {
		p, err := decodePlatform(req.Form.Get("platform"))
		if err != nil {
			return err
		}
		plat = p
	}
	pw := newProgressWriter(w)
	err := r.backend.Images().Push(req.Context(), vars["name"], req.Form.Get("tag"), plat, auth, func(p engineimage.Progress) {
		if p.Pushed != nil {
			aux, _ := json.Marshal(struct {
				Tag    string
				Digest string
				Size   int
			}{p.Pushed.Tag, p.Pushed.Digest, p.Pushed.Size})
			raw := json.RawMessage(aux)
			pw.Write(jsonmessage.JSONMessage{Progress: &jsonmessage.JSONProgress{}, Aux: &raw})
			return
		}
		pw.progress(p)
	})
	return pw.finish(err)
}
