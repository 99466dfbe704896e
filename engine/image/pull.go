package image

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

func shortID(digest string) string {
	h := strings.TrimPrefix(digest, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

func authenticator(a *Auth) authn.Authenticator {
	if a == nil || (a.Username == "" && a.Password == "" && a.IdentityToken == "" && a.RegistryToken == "") {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
}

// classifyRemote turns registry errors into Docker's classes and wording.
func classifyRemote(p parsed, err error) error {
	if errdefs.KindOf(err) != errdefs.KindUnknown {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case 404: // the registry does not know the repository or tag
			for _, d := range terr.Errors {
				if d.Code == transport.NameUnknownErrorCode {
					return errdefs.NotFoundf("pull access denied for %s, repository does not exist or may require 'docker login'", p.familiarName())
				}
			}
			return errdefs.NotFoundf("manifest for %s not found: manifest unknown", p.familiar())
		case 401, 403:
			return errdefs.NotFoundf("pull access denied for %s, repository does not exist or may require 'docker login'", p.familiarName())
		}
	}
	return errdefs.Unavailable(err)
}

// Pull pulls ref for plat; see API. Concurrent pulls of the same reference
// and platform share one download and see the same progress lines.
func (s *Service) Pull(ctx context.Context, ref string, plat *platform.Platform, auth *Auth, progress func(Progress)) (*Image, error) {
	return s.pullRef(ctx, ref, plat, auth, progress, false)
}

// Fetch is Pull for plat without moving a tag: ref's tag is recorded only
// when it names no image yet, so an image of another platform that it
// names keeps it, whatever else reads the tag meanwhile (the image
// builder fetches base images so: dockerd's BuildKit pulls into a store of
// its own and leaves the user's tags alone).
func (s *Service) Fetch(ctx context.Context, ref string, plat *platform.Platform) (*Image, error) {
	return s.pullRef(ctx, ref, plat, nil, nil, true)
}

func (s *Service) pullRef(ctx context.Context, ref string, plat *platform.Platform, auth *Auth, progress func(Progress), keepTags bool) (*Image, error) {
	p, err := s.parseRef(ref)
	if err != nil {
		return nil, err
	}
	want, explicit := platform.Host(), false
	if plat != nil && !plat.IsZero() {
		want, explicit = *plat, true
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	key := fmt.Sprintf("%s|%s|%t|%t", p.named, want, explicit, keepTags)
	return s.join(ctx, key, progress, func(emit func(Progress)) (*Image, error) {
		return s.pull(ctx, p, want, explicit, auth, emit, keepTags)
	})
}

// pull downloads and stores p for want; keepTags leaves a tag that names
// an image already as it is (Fetch).
func (s *Service) pull(ctx context.Context, p parsed, want platform.Platform, explicit bool, auth *Auth, progress func(Progress), keepTags bool) (*Image, error) {
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(authenticator(auth)), remote.WithPlatform(want.V1())}
	desc, err := remote.Get(p.ref, opts...)
	if err != nil {
		return nil, classifyRemote(p, err)
	}
	pulledDigest := desc.Digest.String()
	var img v1.Image
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, classifyRemote(p, err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, classifyRemote(p, err)
		}
		var child *v1.Descriptor
		for i, m := range im.Manifests {
			if m.Platform != nil && want.Matches(*m.Platform) {
				child = &im.Manifests[i]
				break
			}
		}
		if child == nil {
			return nil, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries", want)
		}
		if img, err = remote.Image(p.ref.Context().Digest(child.Digest.String()), opts...); err != nil {
			return nil, classifyRemote(p, err)
		}
	} else if desc.MediaType.IsImage() {
		if img, err = desc.Image(); err != nil {
			return nil, classifyRemote(p, err)
		}
	} else {
		return nil, errdefs.InvalidParameterf("unsupported manifest media type %q for %s", desc.MediaType, p.familiar())
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, classifyRemote(p, err)
	}
	got, err := configPlatform(cfg)
	if err != nil {
		return nil, errdefs.InvalidParameterf("image %s has an unsupported platform: %v", p.familiar(), err)
	}
	if explicit && got != want {
		return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", p.familiar(), want, got)
	}
	// Docker names the line after the tag, or the digest for a digest pull.
	id := pulledDigest
	if t, ok := p.ref.(name.Tag); ok {
		id = t.TagStr()
	}
	progress(Progress{ID: id, Status: "Pulling from " + p.ref.Context().RepositoryStr()})
	var tags []string
	if _, ok := p.ref.(name.Tag); ok {
		tags = []string{p.familiar()}
	}
	out, upToDate, err := s.store(ctx, img, got, tags, keepTags, digestRef(p.familiarName(), pulledDigest), pulledDigest, progress)
	if err != nil {
		return nil, err
	}
	progress(Progress{Status: "Digest: " + pulledDigest})
	if upToDate {
		progress(Progress{Status: "Status: Image is up to date for " + p.familiar()})
	} else {
		progress(Progress{Status: "Status: Downloaded newer image for " + p.familiar()})
	}
	return out, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
