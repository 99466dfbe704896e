package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// CommitRequest is a new image made of a stored image and one more layer
// (docker commit), or of that layer alone (docker import).
type CommitRequest struct {
	// Parent is the ID of the image the layer goes on top of; "" for an
	// image of the layer alone, for Platform.
	Parent string
	// Platform is a parentless image's platform (ignored with a parent:
	// the parent's).
	Platform platform.Platform
	// Layer is the new layer, an uncompressed tar (OCI whiteouts). An
	// empty tar adds no layer, only a history entry marked empty, as
	// dockerd does.
	Layer io.Reader
	// Config is the new image's run configuration.
	Config v1.Config
	// HealthStartInterval is Config.Healthcheck's start interval, which
	// v1.Config cannot hold (see Image.HealthStartInterval).
	HealthStartInterval time.Duration
	// Author and Comment go into the config and its new history entry.
	Author  string
	Comment string
	// CreatedBy is the history entry's command (dockerd: the container's
	// Cmd joined by spaces).
	CreatedBy string
	// ContainerID is the container the layer comes from.
	ContainerID string
	// Tag, when set, is the familiar repo:tag reference given to the new
	// image.
	Tag string
}

// emptyLayerDiffID is the digest of an empty tar (the end-of-archive
// marker alone): Docker's empty layer.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// Commit stores a new image: the parent's layers and config, the layer
// gzip-compressed and appended to rootfs.diff_ids, the run configuration,
// author, creation time and a history entry; a manifest of the parent's
// kind (Docker or OCI). Its ID is its config's digest. Like every stored
// image it runs from a root disk built from all its layers.
func (s *Service) Commit(ctx context.Context, req CommitRequest) (_ *Image, err error) {
	if req.Layer == nil {
		return nil, errdefs.InvalidParameterf("a commit needs a layer")
	}
	var written, pinned []string
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			used := s.usedBlobsLocked()
			for _, b := range written {
				if !used[b] {
					os.Remove(s.blobPath(b))
				}
			}
		}
		for _, b := range pinned {
			if s.pending[b]--; s.pending[b] <= 0 {
				delete(s.pending, b)
			}
		}
	}()
	var parent *record
	var rawParentConfig []byte
	var manifest v1.Manifest
	if req.Parent == "" {
		parent, rawParentConfig, manifest, err = scratch(req.Platform)
	} else {
		parent, rawParentConfig, manifest, pinned, err = s.commitParent(req.Parent)
	}
	if err != nil {
		return nil, err
	}
	layerType := types.DockerLayer
	if types.MediaType(parent.MediaType) == types.OCIManifestSchema1 {
		layerType = types.OCILayer
	}

	layer, diffSize, err := s.writeLayerBlob(req.Layer, layerType)
	if layer.Digest != "" {
		written = append(written, layer.Digest)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// An empty layer adds none to a parent, but is an imported image's
	// only layer, as in dockerd.
	empty := layer.DiffID == emptyLayerDiffID && req.Parent != ""
	if empty {
		// No layer: its blob would be referenced by nothing.
		s.mu.Lock()
		if !s.usedBlobsLocked()[layer.Digest] {
			os.Remove(s.blobPath(layer.Digest))
		}
		s.mu.Unlock()
		written = nil
	}

	rawConfig, err := childConfig(rawParentConfig, req, layer.DiffID, empty, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	configDigest := sha256Digest(rawConfig)
	manifest.Config = v1.Descriptor{MediaType: manifest.Config.MediaType, Size: int64(len(rawConfig)), Digest: configDigest}
	manifest.Annotations, manifest.Subject = nil, nil
	rec := &record{
		ID: configDigest.String(), Platform: parent.Platform, MediaType: parent.MediaType,
		Layers: slices.Clone(parent.Layers), LayerSizes: slices.Clone(parent.LayerSizes),
	}
	if len(rec.LayerSizes) != len(rec.Layers) {
		rec.LayerSizes = make([]int64, len(rec.Layers))
	}
	if !empty {
		layerDigest, err := v1.NewHash(layer.Digest)
		if err != nil {
			return nil, err
		}
		manifest.Layers = append(manifest.Layers, v1.Descriptor{MediaType: layerType, Size: layer.Size, Digest: layerDigest})
		rec.Layers = append(rec.Layers, layer)
		rec.LayerSizes = append(rec.LayerSizes, diffSize)
	}
	rawManifest, err := json.Marshal(manifest)
	if err != nil {
		return nil, err
	}
	rec.ManifestDigest = sha256Digest(rawManifest).String()
	for _, n := range rec.LayerSizes {
		rec.Size += n
	}
	for _, b := range []struct {
		digest string
		data   []byte
	}{{rec.ID, rawConfig}, {rec.ManifestDigest, rawManifest}} {
		wrote, err := s.writeBlob(b.digest, int64(len(b.data)), bytes.NewReader(b.data), nil)
		if wrote {
			written = append(written, b.digest)
		}
		if err != nil {
			return nil, err
		}
	}
	var tags []string
	if req.Tag != "" {
		tags = []string{req.Tag}
	}
	return s.commit(rec, tags, false, "", "")
}

// writeLayerBlob gzips the layer tar r into the blob store and returns the
// layer (its blob's digest and size, its diff ID) and its uncompressed
// size. The blob is kept even when it is empty, like any other.
func (s *Service) writeLayerBlob(r io.Reader, mediaType types.MediaType) (Layer, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.root, "blobs", "sha256"), ".tmp-*")
	if err != nil {
		return Layer{}, 0, err
	}
	defer os.Remove(tmp.Name())
	compressed := sha256.New()
	cw := &countingWriter{}
	gz := gzip.NewWriter(io.MultiWriter(tmp, compressed, cw))
	diff := sha256.New()
	n, err := io.Copy(io.MultiWriter(gz, diff), r)
	if err != nil {
		tmp.Close()
		return Layer{}, 0, fmt.Errorf("reading the layer: %w", err)
	}
	if err := gz.Close(); err != nil {
		tmp.Close()
		return Layer{}, 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Layer{}, 0, err
	}
	if err := tmp.Close(); err != nil {
		return Layer{}, 0, err
	}
	l := Layer{
		Digest:    "sha256:" + hex.EncodeToString(compressed.Sum(nil)),
		DiffID:    "sha256:" + hex.EncodeToString(diff.Sum(nil)),
		MediaType: string(mediaType),
		Size:      cw.n,
	}
	if s.hasBlob(l.Digest) {
		return l, n, nil // the same layer, committed before
	}
	if err := os.Rename(tmp.Name(), s.blobPath(l.Digest)); err != nil {
		return Layer{}, 0, err
	}
	return l, n, nil
}

// childConfig is the parent's config (its unknown fields kept) with the
// commit's run configuration, author, container, creation time, the layer
// appended to rootfs.diff_ids (unless empty) and a history entry.
func childConfig(rawParent []byte, req CommitRequest, diffID string, empty bool, now time.Time) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(rawParent, &fields); err != nil {
		return nil, fmt.Errorf("reading the parent image's config: %w", err)
	}
	var parent v1.ConfigFile
	if err := json.Unmarshal(rawParent, &parent); err != nil {
		return nil, fmt.Errorf("reading the parent image's config: %w", err)
	}
	rootfs := parent.RootFS
	if rootfs.Type == "" {
		rootfs.Type = "layers"
	}
	rootfs.DiffIDs = slices.Clone(rootfs.DiffIDs)
	if !empty {
		h, err := v1.NewHash(diffID)
		if err != nil {
			return nil, err
		}
		rootfs.DiffIDs = append(rootfs.DiffIDs, h)
	}
	history := append(slices.Clone(parent.History), v1.History{
		Author: req.Author, Created: v1.Time{Time: now}, CreatedBy: req.CreatedBy,
		Comment: req.Comment, EmptyLayer: empty,
	})
	set := map[string]any{
		"config":  runConfigOf(req.Config, req.HealthStartInterval),
		"created": now.Format(time.RFC3339Nano),
		"rootfs":  rootfs,
		"history": history,
	}
	if req.ContainerID != "" {
		set["container"] = req.ContainerID
	}
	for k, v := range set {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		fields[k] = b
	}
	// dockerd's container_config described the container a layer came
	// from; a stale one from the parent would describe another.
	delete(fields, "container_config")
	delete(fields, "author")
	if req.Author != "" {
		b, _ := json.Marshal(req.Author)
		fields["author"] = b
	}
	return json.Marshal(fields)
}

// commitParent finds the stored image ref names and reads its config and
// manifest; pinned are its blobs, which a concurrent removal keeps until
// the caller releases them (also when an error is returned).
func (s *Service) commitParent(ref string) (rec *record, rawConfig []byte, manifest v1.Manifest, pinned []string, err error) {
	s.mu.Lock()
	rec = s.lookupLocked(ref, nil)
	if rec != nil {
		pinned = append(layerDigests(rec), rec.ID, rec.ManifestDigest)
		for _, b := range pinned {
			s.pending[b]++
		}
	}
	s.mu.Unlock()
	if rec == nil {
		return nil, nil, manifest, nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	if rawConfig, err = os.ReadFile(s.blobPath(rec.ID)); err != nil {
		return nil, nil, manifest, pinned, err
	}
	rawManifest, err := os.ReadFile(s.blobPath(rec.ManifestDigest))
	if err != nil {
		return nil, nil, manifest, pinned, err
	}
	if err := json.Unmarshal(rawManifest, &manifest); err != nil {
		return nil, nil, manifest, pinned, fmt.Errorf("reading the manifest of %s: %w", rec.ID, err)
	}
	return rec, rawConfig, manifest, pinned, nil
}

// runConfig is a config's "config" object with the healthcheck's start
// interval, which v1.Config has no field for: the outer Healthcheck
// takes the place of the embedded one in JSON.
type runConfig struct {
	v1.Config
	Healthcheck *healthWithStart `json:",omitempty"`
}

type healthWithStart struct {
	v1.HealthConfig
	StartInterval time.Duration `json:",omitempty"`
}

// runConfigOf is c as a config's "config" object, with the healthcheck's
// start interval when there is one.
func runConfigOf(c v1.Config, healthStartInterval time.Duration) any {
	if c.Healthcheck == nil || healthStartInterval == 0 {
		return c
	}
	return runConfig{Config: c, Healthcheck: &healthWithStart{HealthConfig: *c.Healthcheck, StartInterval: healthStartInterval}}
}

// scratch is the empty base of a parentless image for plat: a config with
// the platform and no layers, and a Docker manifest without any.
func scratch(plat platform.Platform) (*record, []byte, v1.Manifest, error) {
	fields := map[string]any{
		"architecture": plat.Architecture,
		"os":           plat.OS,
		"config":       struct{}{},
		"rootfs":       v1.RootFS{Type: "layers"},
	}
	if plat.Variant != "" {
		fields["variant"] = plat.Variant
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, v1.Manifest{}, err
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON},
		Layers:        []v1.Descriptor{},
	}
	return &record{Platform: plat.String(), MediaType: string(types.DockerManifestSchema2)}, raw, m, nil
}

func sha256Digest(b []byte) v1.Hash {
	h := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h[:])}
}
