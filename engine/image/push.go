package image

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// pushTarget is one tag a push writes and the stored image it names.
type pushTarget struct {
	tag string
	rec *record
}

// Push writes stored images to their registry; see API. Each image goes
// byte for byte as it is stored (manifest, config and compressed layers from
// the blob store), so the registry gets the digests the image was pulled or
// loaded with. The progress lines are dockerd's: "The push refers to
// repository [NAME]", per layer (by its short diff ID, newest layer first)
// "Preparing", then "Pushing" with the bytes sent or "Layer already
// exists", "Pushed"; per tag "TAG: digest: DIGEST size: N" and a line with
// Pushed set. A pushed tag also records REPO@DIGEST, as dockerd does.
func (s *Service) Push(ctx context.Context, repo, tag string, plat *platform.Platform, auth *Auth, progress func(Progress)) error {
	if progress == nil {
		progress = func(Progress) {}
	}
	named, err := pushReference(repo, tag)
	if err != nil {
		return err
	}
	if plat != nil && !plat.IsZero() {
		// dockerd checks the platform before it says anything.
		if _, err := s.Resolve(reference.FamiliarString(reference.TagNameOnly(named)), plat); err != nil {
			return err
		}
	}
	repoNamed := reference.TrimNamed(named)
	progress(Progress{Status: fmt.Sprintf("The push refers to repository [%s]", repoNamed.Name())})
	if _, digested := named.(reference.Digested); digested {
		return errdefs.InvalidParameterf("cannot push a digest reference")
	}
	targets, release, err := s.pushTargets(named)
	if err != nil {
		return err
	}
	defer release()
	var opts []name.Option
	if s.isInsecure(reference.Domain(repoNamed)) {
		opts = append(opts, name.Insecure)
	}
	dst, err := name.NewRepository(repoNamed.Name(), opts...)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", repo)
	}
	pusher, err := remote.NewPusher(remote.WithAuth(authenticator(auth)), remote.WithContext(ctx))
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := s.pushTag(ctx, pusher, dst, t, progress); err != nil {
			return pushError(err)
		}
		if err := s.addRef(digestRef(reference.FamiliarName(repoNamed), t.rec.ManifestDigest), t.rec.ManifestDigest); err != nil {
			return err
		}
	}
	return nil
}

// pushReference is what a push names: repo[:tag], or repo alone for every
// tag; a tag in repo itself counts when tag is "".
func pushReference(repo, tag string) (reference.Named, error) {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	if tag == "" {
		return named, nil
	}
	if strings.HasPrefix(tag, "sha256:") {
		d, err := reference.WithDigest(reference.TrimNamed(named), digest.Digest(tag))
		if err != nil {
			return nil, errdefs.InvalidParameter(err)
		}
		return d, nil
	}
	t, err := reference.WithTag(reference.TrimNamed(named), tag)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return t, nil
}

// pushTargets finds the tags a push of named writes and holds their blobs
// until release, so that a removal meanwhile cannot delete them. The errors
// are dockerd's.
func (s *Service) pushTargets(named reference.Named) ([]pushTarget, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	repo := reference.FamiliarName(named)
	want := ""
	if t, ok := named.(reference.Tagged); ok {
		want = t.Tag()
	}
	var targets []pushTarget
	known := false
	for ref, d := range s.refs {
		n, err := reference.ParseNormalizedNamed(ref)
		if err != nil || reference.FamiliarName(n) != repo {
			continue
		}
		known = true
		t, ok := n.(reference.NamedTagged)
		if !ok || (want != "" && t.Tag() != want) || s.images[d] == nil {
			continue
		}
		targets = append(targets, pushTarget{tag: t.Tag(), rec: s.images[d]})
	}
	switch {
	case !known:
		return nil, nil, errdefs.NotFoundf("An image does not exist locally with the tag: %s", repo)
	case len(targets) == 0 && want != "":
		return nil, nil, errdefs.NotFoundf("tag does not exist: %s", reference.FamiliarString(named))
	case len(targets) == 0:
		return nil, nil, errdefs.NotFoundf("no tags to push for %s", repo)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].tag < targets[j].tag })
	var held []string
	for _, t := range targets {
		for _, b := range append(layerDigests(t.rec), t.rec.ID, t.rec.ManifestDigest) {
			s.pending[b]++
			held = append(held, b)
		}
	}
	release := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, b := range held {
			if s.pending[b]--; s.pending[b] <= 0 {
				delete(s.pending, b)
			}
		}
	}
	return targets, release, nil
}

// pushTag uploads one image's layers (reporting each), then its config and
// manifest under the tag.
func (s *Service) pushTag(ctx context.Context, pusher *remote.Pusher, dst name.Repository, t pushTarget, progress func(Progress)) error {
	layers := t.rec.Layers
	ids := make([]string, len(layers))
	for i, l := range layers {
		ids[i] = shortID(l.DiffID)
		if l.DiffID == "" {
			ids[i] = shortID(l.Digest)
		}
	}
	for i := len(layers) - 1; i >= 0; i-- {
		progress(Progress{ID: ids[i], Status: "Preparing"})
	}
	for i := len(layers) - 1; i >= 0; i-- {
		l, id := layers[i], ids[i]
		sent, last := false, int64(0)
		cl, err := partial.CompressedToLayer(storedLayer{s: s, l: l, onRead: func(n int64) {
			sent = true
			if n-last >= progressEvery || n == l.Size {
				last = n
				progress(Progress{ID: id, Status: "Pushing", Current: n, Total: l.Size})
			}
		}})
		if err != nil {
			return err
		}
		if err := pusher.Upload(ctx, dst, cl); err != nil {
			return err
		}
		if sent {
			progress(Progress{ID: id, Status: "Pushed"})
		} else {
			progress(Progress{ID: id, Status: "Layer already exists"})
		}
	}
	img, err := s.v1Image(t.rec)
	if err != nil {
		return err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if err := pusher.Push(ctx, dst.Tag(t.tag), img); err != nil {
		return err
	}
	progress(Progress{Status: fmt.Sprintf("%s: digest: %s size: %d", t.tag, t.rec.ManifestDigest, len(raw))})
	progress(Progress{Pushed: &Pushed{Tag: t.tag, Digest: t.rec.ManifestDigest, Size: len(raw)}})
	return nil
}

// addRef records ref for the stored image manifestDigest (if it is still
// stored).
func (s *Service) addRef(ref, manifestDigest string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.images[manifestDigest] == nil || s.refs[ref] == manifestDigest {
		return nil
	}
	refs := maps.Clone(s.refs)
	refs[ref] = manifestDigest
	if err := writeJSONAtomic(s.refsPath(), refs); err != nil {
		return err
	}
	s.refs = refs
	return nil
}

// pushError words a registry's refusal as Docker's distribution client
// does ("unauthorized: authentication required"); other errors keep their
// text.
func pushError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return registryError(err)
}
