package image

import (
	"net/http"

	"github.com/docker/docker/api/types/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/pier-vm/pier/server/httputils"
)

// getDistributionInfo is GET /distribution/{name}/json: the registry's
// descriptor of the manifest name points at and its platforms (X-Registry-
// Auth carries the credentials; one that does not decode is ignored).
func (r *Router) getDistributionInfo(w http.ResponseWriter, req *http.Request, vars map[string]string) error {
	auth, _ := decodeAuth(req.Header.Get("X-Registry-Auth"))
	d, err := r.backend.Images().Distribution(req.Context(), vars["name"], auth)
	if err != nil {
		return err
	}
	out := registry.DistributionInspect{Descriptor: ocispec.Descriptor{MediaType: d.MediaType, Digest: digest.Digest(d.Digest), Size: d.Size}}
	for _, p := range d.Platforms {
		out.Platforms = append(out.Platforms, ocispec.Platform{Architecture: p.Architecture, OS: p.OS, OSVersion: p.OSVersion, OSFeatures: p.OSFeatures, Variant: p.Variant})
	}
	return httputils.WriteJSON(w, http.StatusOK, out)
}
