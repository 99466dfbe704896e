package image

import (
	"context"
	"errors"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pier-vm/pier/errdefs"
)

// Distribution is what a registry holds under a reference: the manifest's
// descriptor and the platforms it serves.
type Distribution struct {
	MediaType string
	Digest    string
	Size      int64
	// Platforms are an index's entries, or an image's own platform (from
	// its config).
	Platforms []v1.Platform
}

// Distribution asks the registry what ref names (`GET
// /distribution/{name}/json`, docker buildx and docker service ask it);
// nothing is stored. The tag defaults to latest. A reference that is
// only a digest or an ID is refused as dockerd does.
func (s *Service) Distribution(ctx context.Context, ref string, auth *Auth) (*Distribution, error) {
	any, err := reference.ParseAnyReference(ref)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	if _, ok := any.(reference.Named); !ok {
		if _, ok := any.(reference.Digested); ok {
			return nil, errors.New("no manifest found for full image ID")
		}
		return nil, errdefs.InvalidParameterf("unknown image reference format: %s", ref)
	}
	p, err := s.parseRef(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(p.ref, remote.WithContext(ctx), remote.WithAuth(authenticator(auth)))
	if err != nil {
		return nil, registryError(err)
	}
	out := &Distribution{MediaType: string(desc.MediaType), Digest: desc.Digest.String(), Size: desc.Size}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, registryError(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, registryError(err)
		}
		for _, m := range im.Manifests {
			if m.Platform != nil {
				out.Platforms = append(out.Platforms, *m.Platform)
			}
		}
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, registryError(err)
		}
		if cfg, err := img.ConfigFile(); err == nil && (cfg.OS != "" || cfg.Architecture != "") {
			out.Platforms = append(out.Platforms, *cfg.Platform())
		}
	}
	return out, nil
}

// registryError classifies a registry's refusal by its status, in the
// words of Docker's distribution client.
func registryError(err error) error {
	var terr *transport.Error
	if !errors.As(err, &terr) {
		return err
	}
	text := errors.New(registryErrorText(terr))
	switch terr.StatusCode {
	case 401:
		return errdefs.Unauthorized(text)
	case 403:
		return errdefs.Forbidden(text)
	case 404:
		return errdefs.NotFound(text)
	}
	return errdefs.Unavailable(text)
}
