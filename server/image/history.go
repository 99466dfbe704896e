package image

import (
	"net/http"

	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/versions"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/server/httputils"
)

// getImagesHistory is `docker history`: the image's history, newest first
// (platform, API 1.48+, a JSON OCI platform the image must match).
func (r *Router) getImagesHistory(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	var plat *platform.Platform
	if versions.GreaterThanOrEqualTo(httputils.VersionFromContext(req.Context()), "1.48") {
		p, err := decodePlatform(req.FormValue("platform"))
		if err != nil {
			return err
		}
		plat = p
	}
	items, err := r.backend.Images().History(vars["name"], plat)
	if err != nil {
		return err
	}
	out := make([]imagetypes.HistoryResponseItem, 0, len(items))
	for _, it := range items {
		var created int64
		if !it.Created.IsZero() {
			created = it.Created.Unix()
		}
		out = append(out, imagetypes.HistoryResponseItem{
			ID: it.ID, Created: created, CreatedBy: it.CreatedBy, Tags: it.Tags, Size: it.Size, Comment: it.Comment,
		})
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
