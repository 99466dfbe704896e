package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pier-vm/pier/errdefs"
)

// Save writes a `docker save` tarball of refs (manifest.json, config and
// layer files). Like Docker, a tag saves that tag, a bare repository name
// saves every tag of the repository, and an ID or digest saves the image
// untagged.
func (s *Service) Save(ctx context.Context, refs []string, w io.Writer) error {
	byRef := map[name.Reference]v1.Image{}
	images := map[string]v1.Image{} // one value per image, so its tags share an entry
	s.mu.Lock()
	for _, r := range refs {
		targets, err := s.saveTargetsLocked(r)
		if err != nil {
			s.mu.Unlock()
			return err
		}
		for ref, rec := range targets {
			img := images[rec.ManifestDigest]
			if img == nil {
				if img, err = s.v1Image(rec); err != nil {
					s.mu.Unlock()
					return err
				}
				images[rec.ManifestDigest] = img
			}
			byRef[ref] = img
		}
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	return tarball.MultiRefWrite(byRef, w)
}

// saveTargetsLocked maps what r names to ggcr references: tags for tagged
// entries, a digest (written untagged) otherwise; s.mu is held.
func (s *Service) saveTargetsLocked(r string) (map[name.Reference]*record, error) {
	out := map[name.Reference]*record{}
	if named, err := reference.ParseNormalizedNamed(r); err == nil {
		_, digested := named.(reference.Digested)
		if reference.IsNameOnly(named) {
			repo := reference.FamiliarName(named)
			for ref, d := range s.refs {
				if n, err := reference.ParseNormalizedNamed(ref); err == nil && !isDigestRef(ref) && reference.FamiliarName(n) == repo {
					if err := addTag(out, ref, s.images[d]); err != nil {
						return nil, err
					}
				}
			}
			if len(out) > 0 {
				return out, nil
			}
		} else if !digested {
			if d, ok := s.refs[reference.FamiliarString(named)]; ok {
				return out, addTag(out, reference.FamiliarString(named), s.images[d])
			}
		}
	}
	rec := s.lookupLocked(r, nil)
	if rec == nil {
		return nil, errdefs.NotFoundf("No such image: %s", r)
	}
	d, err := name.NewDigest("untagged@" + rec.ManifestDigest)
	if err != nil {
		return nil, err
	}
	out[d] = rec
	return out, nil
}

func addTag(out map[name.Reference]*record, familiar string, rec *record) error {
	if rec == nil {
		return nil
	}
	t, err := name.NewTag(familiar)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", familiar)
	}
	out[t] = rec
	return nil
}

// Load reads a `docker save` tarball (the classic layout or the OCI layout
// with a manifest.json that Docker 25+ writes), stores its images and tags
// them; it reports "Loaded image: <tag>" per tag, or "Loaded image ID: <id>"
// for an untagged image, and returns those references.
func (s *Service) Load(ctx context.Context, r io.Reader, progress func(Progress)) ([]string, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	tmp, err := os.CreateTemp(s.root, ".load-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading the archive: %w", err)
	}
	opener := func() (io.ReadCloser, error) { return os.Open(tmp.Name()) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, errdefs.InvalidParameterf("invalid tar header: the archive holds no readable manifest.json: %v", err)
	}
	var loaded []string
	for i, entry := range manifest {
		if err := ctx.Err(); err != nil {
			return loaded, err
		}
		tags := make([]string, 0, len(entry.RepoTags))
		for _, t := range entry.RepoTags {
			named, err := reference.ParseNormalizedNamed(t)
			if err != nil {
				return loaded, errdefs.InvalidParameterf("invalid reference format: %s", t)
			}
			tags = append(tags, reference.FamiliarString(reference.TagNameOnly(named)))
		}
		img, err := loadEntry(opener, manifest, i)
		if err != nil {
			return loaded, errdefs.InvalidParameterf("reading image %d of the archive: %v", i+1, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return loaded, errdefs.InvalidParameterf("reading image %d of the archive: %v", i+1, err)
		}
		plat, err := configPlatform(cfg)
		if err != nil {
			return loaded, err
		}
		stored, _, err := s.store(ctx, img, plat, tags, false, "", "", func(Progress) {})
		if err != nil {
			return loaded, err
		}
		if len(tags) == 0 {
			progress(Progress{Status: "Loaded image ID: " + stored.ID})
			loaded = append(loaded, stored.ID)
		}
		for _, t := range tags {
			progress(Progress{Status: "Loaded image: " + t})
			loaded = append(loaded, t)
		}
	}
	return loaded, nil
}

// loadEntry opens image i of a docker-save archive: by its first tag with
// tarball.Image, or, for an untagged entry among several, by pretending it
// is the only entry.
func loadEntry(opener tarball.Opener, m tarball.Manifest, i int) (v1.Image, error) {
	e := m[i]
	if len(e.RepoTags) > 0 {
		t, err := name.NewTag(e.RepoTags[0])
		if err != nil {
			return nil, err
		}
		return tarball.Image(opener, &t)
	}
	if len(m) == 1 {
		return tarball.Image(opener, nil)
	}
	only, err := json.Marshal(tarball.Manifest{e})
	if err != nil {
		return nil, err
	}
	return tarball.Image(withManifest(opener, only), nil)
}

// withManifest serves the archive opener opens with manifest.json replaced
// by manifest, rewriting the tar stream as it is read.
func withManifest(opener tarball.Opener, manifest []byte) tarball.Opener {
	return func() (io.ReadCloser, error) {
		src, err := opener()
		if err != nil {
			return nil, err
		}
		pr, pw := io.Pipe()
		go func() {
			defer src.Close()
			pw.CloseWithError(copyTar(tar.NewReader(src), tar.NewWriter(pw), manifest))
		}()
		return pr, nil
	}
}

func copyTar(tr *tar.Reader, tw *tar.Writer, manifest []byte) error {
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		var body io.Reader = tr
		if path.Clean(hdr.Name) == "manifest.json" {
			hdr.Size = int64(len(manifest))
			body = bytes.NewReader(manifest)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, body); err != nil {
			return err
		}
	}
}
