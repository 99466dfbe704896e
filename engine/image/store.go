package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// progressEvery is how many bytes pass between two Downloading or
// Extracting lines of one layer.
const progressEvery = 512 << 10

// store downloads what the blob store lacks of img, counts each new layer's
// uncompressed size, and records the image with references tags (familiar
// tag references) and digestRef (a familiar repo@digest, or ""); pulledDigest,
// when set, is the digest the user pulled by. It reports whether the image was
// stored already with every tag pointing at it. On failure it removes the
// blobs it wrote that nothing else uses, so the store is as it was.
func (s *Service) store(ctx context.Context, img v1.Image, plat platform.Platform, tags []string, keepTags bool, digestRef, pulledDigest string, progress func(Progress)) (_ *Image, _ bool, err error) {
	manifestDigest, err := img.Digest()
	if err != nil {
		return nil, false, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, false, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, false, err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return nil, false, err
	}
	configName, err := img.ConfigName()
	if err != nil {
		return nil, false, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, false, err
	}
	rec := &record{ID: configName.String(), ManifestDigest: manifestDigest.String(), Platform: plat.String(), MediaType: string(mt)}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, false, err
		}
		diff, _ := l.DiffID()
		size, _ := l.Size()
		lmt, _ := l.MediaType()
		rec.Layers = append(rec.Layers, Layer{Digest: d.String(), DiffID: diff.String(), MediaType: string(lmt), Size: size})
	}
	rec.LayerSizes = make([]int64, len(rec.Layers))

	blobs := append(layerDigests(rec), rec.ID, rec.ManifestDigest)
	s.mu.Lock()
	upToDate := s.images[rec.ManifestDigest] != nil
	for _, t := range tags {
		upToDate = upToDate && s.refs[t] == rec.ManifestDigest
	}
	for _, b := range blobs {
		s.pending[b]++
	}
	s.mu.Unlock()
	var written []string
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			used := s.storedBlobsLocked()
			for _, b := range written {
				if !used[b] && s.pending[b] <= 1 {
					os.Remove(s.blobPath(b))
				}
			}
		}
		for _, b := range blobs {
			if s.pending[b]--; s.pending[b] <= 0 {
				delete(s.pending, b)
			}
		}
	}()

	var todo []int
	for i, l := range rec.Layers {
		id := shortID(l.Digest)
		if !s.hasBlob(l.Digest) {
			progress(Progress{ID: id, Status: "Pulling fs layer"})
			todo = append(todo, i)
			continue
		}
		progress(Progress{ID: id, Status: "Already exists"})
		n, ok := s.knownLayerSize(l.Digest)
		if !ok {
			if n, err = s.measureLayer(l, nil); err != nil {
				return nil, false, err
			}
		}
		rec.LayerSizes[i] = n
	}
	for _, i := range todo {
		l := rec.Layers[i]
		id := shortID(l.Digest)
		var wrote bool
		wrote, err = s.fetchLayer(layers[i], l, progress)
		if wrote {
			written = append(written, l.Digest)
		}
		if err != nil {
			return nil, false, err
		}
		progress(Progress{ID: id, Status: "Verifying Checksum"})
		progress(Progress{ID: id, Status: "Download complete"})
		var last int64
		rec.LayerSizes[i], err = s.measureLayer(l, func(c int64) {
			if c-last >= progressEvery || c == l.Size {
				last = c
				progress(Progress{ID: id, Status: "Extracting", Current: c, Total: l.Size})
			}
		})
		if err != nil {
			return nil, false, err
		}
		progress(Progress{ID: id, Status: "Pull complete"})
		if err = ctx.Err(); err != nil {
			return nil, false, err
		}
	}
	for _, b := range []struct {
		digest string
		data   []byte
	}{{rec.ManifestDigest, rawManifest}, {rec.ID, rawConfig}} {
		var wrote bool
		wrote, err = s.writeBlob(b.digest, int64(len(b.data)), bytes.NewReader(b.data), nil)
		if wrote {
			written = append(written, b.digest)
		}
		if err != nil {
			return nil, false, err
		}
	}
	for _, n := range rec.LayerSizes {
		rec.Size += n
	}
	var out *Image
	out, err = s.commit(rec, tags, keepTags, digestRef, pulledDigest)
	return out, upToDate, err
}

// commit records rec and its references, on disk first (record, then the
// reference map), then in memory; on failure neither changes. With
// keepTags a tag that names an image already stays as it is.
func (s *Service) commit(rec *record, tags []string, keepTags bool, digestRef, pulledDigest string) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.images[rec.ManifestDigest]; old != nil {
		rec.PulledDigests = append(rec.PulledDigests, old.PulledDigests...)
	}
	if pulledDigest != "" && !contains(rec.PulledDigests, pulledDigest) {
		rec.PulledDigests = append(rec.PulledDigests, pulledDigest)
	}
	refs := maps.Clone(s.refs)
	for _, t := range tags {
		if _, named := refs[t]; named && keepTags {
			continue
		}
		refs[t] = rec.ManifestDigest
	}
	if digestRef != "" {
		refs[digestRef] = rec.ManifestDigest
	}
	_, existed := s.images[rec.ManifestDigest]
	if err := s.saveRecordLocked(rec); err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(s.refsPath(), refs); err != nil {
		if !existed {
			os.Remove(s.recordPath(rec.ManifestDigest))
		}
		return nil, err
	}
	s.images[rec.ManifestDigest] = rec
	s.refs = refs
	return s.imageLocked(rec), nil
}

func layerDigests(rec *record) []string {
	out := make([]string, 0, len(rec.Layers))
	for _, l := range rec.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// usedBlobsLocked returns every blob a stored image or a pull in progress
// uses; s.mu is held.
func (s *Service) usedBlobsLocked() map[string]bool {
	used := s.storedBlobsLocked()
	for b := range s.pending {
		used[b] = true
	}
	return used
}

// storedBlobsLocked returns every blob a stored image uses; s.mu is held.
func (s *Service) storedBlobsLocked() map[string]bool {
	used := map[string]bool{}
	for _, rec := range s.images {
		used[rec.ID], used[rec.ManifestDigest] = true, true
		for _, l := range rec.Layers {
			used[l.Digest] = true
		}
	}
	return used
}

// knownLayerSize finds the uncompressed size of a layer another image
// already counted.
func (s *Service) knownLayerSize(digest string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.images {
		for i, l := range rec.Layers {
			if l.Digest == digest && i < len(rec.LayerSizes) {
				return rec.LayerSizes[i], true
			}
		}
	}
	return 0, false
}

// fetchLayer downloads one layer into the blob store, reporting Downloading
// lines; wrote says whether it created the blob.
func (s *Service) fetchLayer(l v1.Layer, meta Layer, progress func(Progress)) (wrote bool, err error) {
	id := shortID(meta.Digest)
	rc, err := l.Compressed()
	if err != nil {
		return false, errdefs.Unavailable(fmt.Errorf("downloading layer %s: %w", meta.Digest, err))
	}
	defer rc.Close()
	var last int64
	wrote, err = s.writeBlob(meta.Digest, meta.Size, rc, func(n int64) {
		if n-last >= progressEvery || n == meta.Size {
			last = n
			progress(Progress{ID: id, Status: "Downloading", Current: n, Total: meta.Size})
		}
	})
	if err != nil {
		return wrote, errdefs.Unavailable(err)
	}
	return wrote, nil
}

// measureLayer reads a stored layer through its decompressor, checks the
// result against the layer's diff ID when known, and returns its size.
// onRead, when set, gets the compressed bytes read so far.
func (s *Service) measureLayer(l Layer, onRead func(int64)) (int64, error) {
	cl, err := partial.CompressedToLayer(storedLayer{s: s, l: l, onRead: onRead})
	if err != nil {
		return 0, err
	}
	rc, err := cl.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("failed to register layer: %w", err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return 0, fmt.Errorf("failed to register layer %s: %w", l.Digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); l.DiffID != "" && got != l.DiffID {
		return 0, fmt.Errorf("failed to register layer %s: its content is %s, the image config expects %s", l.Digest, got, l.DiffID)
	}
	return n, nil
}
