package image

import (
	"bytes"
	"context"
	"io"
	"os"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// Save writes a `docker save` tarball of refs.
func (s *Service) Save(ctx context.Context, refs []string, w io.Writer) error {
	byRef := map[name.Reference]v1.Image{}
	for _, r := range refs {
		s.mu.Lock()
		rec := s.lookupLocked(r)
		s.mu.Unlock()
		if rec == nil {
			return errdefs.NotFoundf("No such image: %s", r)
		}
		img, err := s.v1Image(rec)
		if err != nil {
			return err
		}
		tag, err := name.NewTag(r)
		if err != nil || isIDLike(r, rec) {
			// Saved by ID: keep it untagged under a placeholder name.
			tag, _ = name.NewTag("pier-untagged/" + shortID(rec.ID) + ":latest")
		}
		byRef[tag] = img
	}
	return tarball.MultiRefWrite(byRef, w)
}

func isIDLike(r string, rec *record) bool {
	return len(r) >= 12 && (r == rec.ID || r == rec.ID[len("sha256:"):] || (len(r) <= 64 && bytes.HasPrefix([]byte(rec.ID[len("sha256:"):]), []byte(r))))
}

// Load reads a `docker save` tarball.
func (s *Service) Load(ctx context.Context, r io.Reader, progress func(Progress)) ([]string, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	tmp, err := os.CreateTemp(s.root, ".load-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := io.Copy(tmp, r); err != nil {
		return nil, err
	}
	opener := func() (io.ReadCloser, error) { return os.Open(tmp.Name()) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, errdefs.InvalidParameterf("invalid tar archive: %v", err)
	}
	var loaded []string
	for _, entry := range manifest {
		var tagPtr *name.Tag
		if len(entry.RepoTags) > 0 {
			t, err := name.NewTag(entry.RepoTags[0])
			if err != nil {
				return loaded, errdefs.InvalidParameterf("invalid tag %q in archive", entry.RepoTags[0])
			}
			tagPtr = &t
		}
		img, err := tarball.Image(opener, tagPtr)
		if err != nil {
			return loaded, errdefs.InvalidParameterf("reading image from archive: %v", err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return loaded, err
		}
		plat, err := platform.FromV1(*cfg.Platform())
		if err != nil {
			return loaded, err
		}
		var p parsed
		if tagPtr != nil {
			if p, err = s.parseRef(entry.RepoTags[0]); err != nil {
				return loaded, err
			}
		}
		stored, err := s.storeLoaded(ctx, p, tagPtr != nil, img, plat)
		if err != nil {
			return loaded, err
		}
		for _, t := range entry.RepoTags[min(1, len(entry.RepoTags)):] {
			named, err := reference.ParseNormalizedNamed(t)
			if err == nil {
				s.mu.Lock()
				s.refs[reference.FamiliarString(reference.TagNameOnly(named))] = stored.ManifestDigest
				s.saveRefsLocked()
				s.mu.Unlock()
			}
		}
		if tagPtr != nil {
			for _, t := range entry.RepoTags {
				progress(Progress{Status: "Loaded image: " + t})
				loaded = append(loaded, t)
			}
		} else {
			progress(Progress{Status: "Loaded image ID: " + stored.ID})
			loaded = append(loaded, stored.ID)
		}
	}
	return loaded, nil
}

// storeLoaded stores a loaded image, tagged when tagged is set.
func (s *Service) storeLoaded(ctx context.Context, p parsed, tagged bool, img v1.Image, plat platform.Platform) (*Image, error) {
	if tagged {
		return s.store(ctx, p, img, plat, "", func(Progress) {})
	}
	return s.store(ctx, parsed{}, img, plat, "", func(Progress) {})
}
