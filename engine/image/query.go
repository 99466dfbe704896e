package image

import (
	"sort"
	"strings"

	"github.com/distribution/reference"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// imageLocked builds the public view of rec; s.mu is held.
func (s *Service) imageLocked(rec *record) *Image {
	img := &Image{ID: rec.ID, ManifestDigest: rec.ManifestDigest, Size: rec.Size, Layers: rec.Layers}
	img.Platform, _ = platform.Parse(rec.Platform)
	for ref, d := range s.refs {
		if d != rec.ManifestDigest {
			continue
		}
		if isDigestRef(ref) {
			img.RepoDigests = append(img.RepoDigests, ref)
		} else {
			img.RepoTags = append(img.RepoTags, ref)
		}
	}
	sort.Strings(img.RepoTags)
	sort.Strings(img.RepoDigests)
	if cfg, err := s.configFile(rec); err == nil {
		img.Config = *cfg
		img.Created = cfg.Created.Time
	}
	return img
}

// Resolve finds a local image; see API.
func (s *Service) Resolve(ref string, plat *platform.Platform) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(ref)
	if rec == nil {
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	img := s.imageLocked(rec)
	if plat != nil && !plat.IsZero() && img.Platform != *plat {
		return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", ref, plat, img.Platform)
	}
	return img, nil
}

// lookupLocked resolves ref by name first, then by ID prefix.
func (s *Service) lookupLocked(ref string) *record {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if d, ok := named.(reference.Digested); ok {
			dig := d.Digest().String()
			if m, ok := s.refs[digestRef(reference.FamiliarName(named), dig)]; ok {
				return s.images[m]
			}
			if rec := s.images[dig]; rec != nil {
				return rec
			}
			for _, rec := range s.images {
				if contains(rec.PulledDigests, dig) {
					return rec
				}
			}
		} else if m, ok := s.refs[reference.FamiliarString(reference.TagNameOnly(named))]; ok {
			return s.images[m]
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if id == "" || strings.Trim(id, "0123456789abcdef") != "" || len(id) > 64 {
		return nil
	}
	var found *record
	for _, rec := range s.images {
		if strings.HasPrefix(strings.TrimPrefix(rec.ID, "sha256:"), id) {
			if found != nil && found.ID != rec.ID {
				return nil // ambiguous
			}
			found = rec
		}
	}
	return found
}

// List returns every stored image.
func (s *Service) List() ([]*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Image, 0, len(s.images))
	for _, rec := range s.images {
		out = append(out, s.imageLocked(rec))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}
