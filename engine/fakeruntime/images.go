package fakeruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// Images is an in-memory image.API holding images added with Add. Only
// Resolve, List, RootDisk and Commit do something; the rest is not
// implemented.
type Images struct {
	mu     sync.Mutex
	images []*image.Image
	// layers holds each committed image's layer tar, by image ID.
	layers map[string][]byte
}

var _ image.API = (*Images)(nil)

// NewImages returns an empty image service.
func NewImages() *Images { return &Images{} }

// Add stores an image tagged ref (for example "busybox:latest") for plat,
// with the given config, and returns it. Its ID derives from ref and plat.
func (m *Images) Add(ref string, plat platform.Platform, cfg v1.Config) *image.Image {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, _, _ := v1.SHA256(strings.NewReader(ref + "|" + plat.String()))
	repo := ref
	if i := strings.LastIndex(ref, ":"); i > 0 {
		repo = ref[:i]
	}
	md, _, _ := v1.SHA256(strings.NewReader("manifest|" + ref + "|" + plat.String()))
	img := &image.Image{
		ID:             h.String(),
		ManifestDigest: md.String(),
		RepoTags:       []string{ref},
		RepoDigests:    []string{repo + "@" + md.String()},
		Platform:       plat,
		Config:         v1.ConfigFile{OS: plat.OS, Architecture: plat.Architecture, Variant: plat.Variant, Config: cfg},
	}
	m.images = append(m.images, img)
	return img
}

// Resolve finds an image by ID (or ID prefix) or tag, with ":latest"
// implied.
func (m *Images) Resolve(ref string, plat *platform.Platform) (*image.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tagged := ref
	if !strings.Contains(ref, ":") {
		tagged = ref + ":latest"
	}
	for _, img := range m.images {
		if plat != nil && img.Platform != *plat {
			continue
		}
		hex := strings.TrimPrefix(img.ID, "sha256:")
		if img.ID == ref || (len(ref) >= 4 && strings.HasPrefix(hex, strings.TrimPrefix(ref, "sha256:"))) {
			return img, nil
		}
		for _, t := range img.RepoTags {
			if t == ref || t == tagged {
				return img, nil
			}
		}
	}
	return nil, errdefs.NotFoundf("No such image: %s", ref)
}

// Commit stores a new image with the parent's platform, req.Config, the
// author, a history entry, and the tag req.Tag; its layer tar is kept for
// CommittedLayer.
func (m *Images) Commit(ctx context.Context, req image.CommitRequest) (*image.Image, error) {
	layer, err := io.ReadAll(req.Layer)
	if err != nil {
		return nil, err
	}
	parent, err := m.Resolve(req.Parent, nil)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	h, _, _ := v1.SHA256(strings.NewReader(fmt.Sprintf("%s|%d|%s", parent.ID, len(m.images), layer)))
	cfg := *parent.Config.DeepCopy()
	cfg.Config, cfg.Author, cfg.Container = req.Config, req.Author, req.ContainerID
	cfg.History = append(cfg.History, v1.History{Author: req.Author, Comment: req.Comment, CreatedBy: req.CreatedBy})
	img := &image.Image{ID: h.String(), ManifestDigest: h.String(), Platform: parent.Platform, Config: cfg}
	if req.Tag != "" {
		img.RepoTags = []string{req.Tag}
		for _, other := range m.images {
			other.RepoTags = slices.DeleteFunc(other.RepoTags, func(t string) bool { return t == req.Tag })
		}
	}
	m.images = append(m.images, img)
	if m.layers == nil {
		m.layers = map[string][]byte{}
	}
	m.layers[img.ID] = layer
	return img, nil
}

// CommittedLayer returns the layer tar of the committed image id.
func (m *Images) CommittedLayer(id string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.layers[id]
	return b, ok
}

// List returns every image.
func (m *Images) List() ([]*image.Image, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*image.Image(nil), m.images...), nil
}

// RootDisk returns a fake path.
func (m *Images) RootDisk(ctx context.Context, img *image.Image) (string, error) {
	return "/fake/disks/" + strings.TrimPrefix(img.ID, "sha256:") + ".ext4", nil
}

var errNotImplemented = errdefs.NotImplemented(errors.New("fakeruntime: not implemented"))

// Pull is not implemented.
func (m *Images) Pull(context.Context, string, *platform.Platform, *image.Auth, func(image.Progress)) (*image.Image, error) {
	return nil, errNotImplemented
}

// Tag is not implemented.
func (m *Images) Tag(source, repo, tag string) error { return errNotImplemented }

// Remove is not implemented.
func (m *Images) Remove(string, image.RemoveOptions) ([]image.DeleteItem, error) {
	return nil, errNotImplemented
}

// Prune is not implemented.
func (m *Images) Prune(bool, func(string) bool) ([]image.DeleteItem, int64, error) {
	return nil, 0, errNotImplemented
}

// Save is not implemented.
func (m *Images) Save(context.Context, []string, io.Writer) error { return errNotImplemented }

// Load is not implemented.
func (m *Images) Load(context.Context, io.Reader, func(image.Progress)) ([]string, error) {
	return nil, errNotImplemented
}

// History is not implemented.
func (m *Images) History(string, *platform.Platform) ([]image.HistoryItem, error) {
	return nil, errNotImplemented
}

// Push is not implemented.
func (m *Images) Push(context.Context, string, string, *platform.Platform, *image.Auth, func(image.Progress)) error {
	return errNotImplemented
}

// Login is not implemented.
func (m *Images) Login(context.Context, image.Auth) (string, error) { return "", errNotImplemented }

// Search is not implemented.
func (m *Images) Search(context.Context, string, int, *image.Auth) ([]image.SearchResult, error) {
	return nil, errNotImplemented
}

// Distribution is not implemented.
func (m *Images) Distribution(context.Context, string, *image.Auth) (*image.Distribution, error) {
	return nil, errNotImplemented
}
