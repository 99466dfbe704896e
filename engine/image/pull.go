package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch terr.StatusCode {
		case http.StatusNotFound:
			for _, d := range terr.Errors {
				if d.Code == transport.NameUnknownErrorCode {
					return errdefs.NotFoundf("pull access denied for %s, repository does not exist or may require 'docker login'", p.familiarName())
				}
			}
			return errdefs.NotFoundf("manifest for %s not found: manifest unknown", p.familiar())
		case http.StatusUnauthorized, http.StatusForbidden:
			return errdefs.NotFoundf("pull access denied for %s, repository does not exist or may require 'docker login'", p.familiarName())
		}
	}
	return errdefs.Unavailable(fmt.Errorf("pulling %s: %w", p.familiar(), err))
}

// Pull pulls ref for plat; see API.
func (s *Service) Pull(ctx context.Context, ref string, plat *platform.Platform, auth *Auth, progress func(Progress)) (*Image, error) {
	p, err := s.parseRef(ref)
	if err != nil {
		return nil, err
	}
	want := platform.Host()
	if plat != nil && !plat.IsZero() {
		want = *plat
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	key := p.named.String() + "|" + want.String()
	// Concurrent pulls of the same reference and platform share one pull;
	// the followers see only its final status line.
	v, err, shared := s.pulls.Do(key, func() (any, error) {
		return s.pull(ctx, p, want, plat != nil && !plat.IsZero(), auth, progress)
	})
	if err != nil {
		return nil, err
	}
	img := v.(*Image)
	if shared {
		progress(Progress{Status: "Status: Image is up to date for " + p.familiar()})
	}
	return img, nil
}

func (s *Service) pull(ctx context.Context, p parsed, want platform.Platform, explicit bool, auth *Auth, progress func(Progress)) (*Image, error) {
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
		for i := range im.Manifests {
			if m := im.Manifests[i]; m.Platform != nil && want.Matches(*m.Platform) {
				child = &im.Manifests[i]
				break
			}
		}
		if child == nil {
			return nil, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries", want)
		}
		img, err = remote.Image(p.ref.Context().Digest(child.Digest.String()), opts...)
		if err != nil {
			return nil, classifyRemote(p, err)
		}
	} else {
		if img, err = desc.Image(); err != nil {
			return nil, classifyRemote(p, err)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, classifyRemote(p, err)
	}
	got, err := platform.FromV1(*cfg.Platform())
	if err != nil {
		return nil, err
	}
	if explicit && got != want {
		return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", p.familiar(), want, got)
	}
	return s.store(ctx, p, img, got, pulledDigest, progress)
}

// store downloads what is missing of img and records it under its tag.
func (s *Service) store(ctx context.Context, p parsed, img v1.Image, plat platform.Platform, pulledDigest string, progress func(Progress)) (*Image, error) {
	manifestDigest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	tag, familiar, familiarName := "", "", ""
	if p.named != nil {
		familiar, familiarName = p.familiar(), p.familiarName()
		if t, ok := p.ref.(name.Tag); ok {
			tag = t.TagStr()
		}
	}
	s.mu.Lock()
	upToDate := s.images[manifestDigest.String()] != nil && (tag == "" || s.refs[familiar] == manifestDigest.String())
	s.mu.Unlock()
	if tag != "" {
		progress(Progress{ID: tag, Status: "Pulling from " + strings.TrimPrefix(p.ref.Context().RepositoryStr(), "library/")})
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	rec := &record{ID: configName.String(), ManifestDigest: manifestDigest.String(), Platform: plat.String(), MediaType: string(mt)}
	var todo []v1.Layer
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		diff, _ := l.DiffID()
		size, _ := l.Size()
		lmt, _ := l.MediaType()
		rec.Layers = append(rec.Layers, Layer{Digest: d.String(), DiffID: diff.String(), MediaType: string(lmt), Size: size})
		if s.hasBlob(d.String()) {
			progress(Progress{ID: shortID(d.String()), Status: "Already exists"})
			continue
		}
		progress(Progress{ID: shortID(d.String()), Status: "Pulling fs layer"})
		todo = append(todo, l)
	}
	for _, l := range todo {
		if err := s.fetchLayer(ctx, l, progress); err != nil {
			return nil, err
		}
	}
	if err := s.writeBlobBytes(manifestDigest.String(), rawManifest); err != nil {
		return nil, err
	}
	if err := s.writeBlobBytes(rec.ID, rawConfig); err != nil {
		return nil, err
	}
	for _, l := range rec.Layers {
		rec.Size += s.uncompressedSize(l.Digest)
	}
	s.mu.Lock()
	if old := s.images[rec.ManifestDigest]; old != nil {
		rec.PulledDigests = old.PulledDigests
	}
	if pulledDigest != "" && !contains(rec.PulledDigests, pulledDigest) {
		rec.PulledDigests = append(rec.PulledDigests, pulledDigest)
	}
	s.images[rec.ManifestDigest] = rec
	if tag != "" {
		s.refs[familiar] = rec.ManifestDigest
	}
	if familiarName != "" && pulledDigest != "" {
		s.refs[digestRef(familiarName, pulledDigest)] = rec.ManifestDigest
	}
	err = s.saveRecordLocked(rec)
	if err == nil {
		err = s.saveRefsLocked()
	}
	out := s.imageLocked(rec)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if pulledDigest != "" {
		progress(Progress{Status: "Digest: " + pulledDigest})
	}
	if upToDate {
		progress(Progress{Status: "Status: Image is up to date for " + familiar})
	} else {
		progress(Progress{Status: "Status: Downloaded newer image for " + familiar})
	}
	return out, nil
}

func (s *Service) fetchLayer(ctx context.Context, l v1.Layer, progress func(Progress)) error {
	d, err := l.Digest()
	if err != nil {
		return err
	}
	size, _ := l.Size()
	id := shortID(d.String())
	rc, err := l.Compressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	var last int64
	err = s.writeBlob(d.String(), size, rc, func(n int64) {
		if n-last >= 256<<10 || n == size {
			last = n
			progress(Progress{ID: id, Status: "Downloading", Current: n, Total: size})
		}
	})
	if err != nil {
		return fmt.Errorf("failed to register layer: %w", err)
	}
	progress(Progress{ID: id, Status: "Verifying Checksum"})
	progress(Progress{ID: id, Status: "Download complete"})
	progress(Progress{ID: id, Status: "Pull complete"})
	return ctx.Err()
}

func (s *Service) writeBlobBytes(digest string, b []byte) error {
	return s.writeBlob(digest, int64(len(b)), strings.NewReader(string(b)), nil)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
