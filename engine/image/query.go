package image

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// imageLocked builds the public view of rec; s.mu is held.
func (s *Service) imageLocked(rec *record) *Image {
	img := &Image{ID: rec.ID, ManifestDigest: rec.ManifestDigest, Size: rec.Size, Layers: append([]Layer(nil), rec.Layers...)}
	for i := range img.Layers {
		if i < len(rec.LayerSizes) {
			img.Layers[i].DiffSize = rec.LayerSizes[i]
		}
	}
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
	if cfg, err := s.configLocked(rec); err == nil {
		img.Config = *cfg.DeepCopy()
		img.Created = cfg.Created.Time
		img.HealthStartInterval = rec.healthStartInterval
	} else {
		s.log.Warn("unreadable image config", "image", rec.ID, "err", err)
	}
	return img
}

// configLocked returns rec's parsed config, read once from the blob store.
func (s *Service) configLocked(rec *record) (*v1.ConfigFile, error) {
	if rec.cfg != nil {
		return rec.cfg, nil
	}
	b, err := os.ReadFile(s.blobPath(rec.ID))
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	var health struct {
		Config struct {
			Healthcheck *struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	if json.Unmarshal(b, &health) == nil && health.Config.Healthcheck != nil {
		rec.healthStartInterval = health.Config.Healthcheck.StartInterval
	}
	rec.cfg = &cfg
	return rec.cfg, nil
}

// Resolve finds a local image; see API.
func (s *Service) Resolve(ref string, plat *platform.Platform) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if plat != nil && plat.IsZero() {
		plat = nil
	}
	rec := s.lookupLocked(ref, plat)
	if rec == nil {
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	img := s.imageLocked(rec)
	if plat != nil && img.Platform != *plat {
		return nil, errdefs.NotFoundf("image with reference %s was found but does not match the specified platform: wanted %s, actual: %s", ref, plat, img.Platform)
	}
	return img, nil
}

// lookupLocked resolves ref by name (tag, or digest: a stored manifest or a
// digest an image was pulled by), then by ID or unique ID prefix. When
// several images were pulled by one index digest, one of plat (when given)
// wins; s.mu is held.
func (s *Service) lookupLocked(ref string, plat *platform.Platform) *record {
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if d, ok := named.(reference.Digested); ok {
			dig := d.Digest().String()
			var candidates []*record
			if m, ok := s.refs[digestRef(reference.FamiliarName(named), dig)]; ok {
				candidates = append(candidates, s.images[m])
			}
			if rec := s.images[dig]; rec != nil {
				candidates = append(candidates, rec)
			}
			for _, rec := range s.sortedLocked() {
				if contains(rec.PulledDigests, dig) {
					candidates = append(candidates, rec)
				}
			}
			for _, rec := range candidates {
				if plat == nil || rec.Platform == plat.String() {
					return rec
				}
			}
			if len(candidates) > 0 {
				return candidates[0]
			}
			return nil
		}
		if m, ok := s.refs[reference.FamiliarString(reference.TagNameOnly(named))]; ok {
			return s.images[m]
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return nil
	}
	var found *record
	for _, rec := range s.sortedLocked() {
		if !strings.HasPrefix(strings.TrimPrefix(rec.ID, "sha256:"), id) {
			continue
		}
		if found != nil && found.ID != rec.ID {
			return nil // ambiguous
		}
		if found == nil || (plat != nil && rec.Platform == plat.String()) {
			found = rec
		}
	}
	return found
}

// sortedLocked returns the images in a stable order (by manifest digest).
func (s *Service) sortedLocked() []*record {
	out := make([]*record, 0, len(s.images))
	for _, rec := range s.images {
		out = append(out, rec)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ManifestDigest < out[j].ManifestDigest })
	return out
}

// List returns every stored image, newest first.
func (s *Service) List() ([]*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Image, 0, len(s.images))
	for _, rec := range s.sortedLocked() {
		out = append(out, s.imageLocked(rec))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}
