package image

import (
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storedImage is a v1.Image read back from the blob store, byte for byte
// as pulled, so its digests are the registry's.
type storedImage struct {
	s   *Service
	rec *record
}

var _ partial.CompressedImageCore = storedImage{}

func (i storedImage) RawConfigFile() ([]byte, error) { return os.ReadFile(i.s.blobPath(i.rec.ID)) }
func (i storedImage) RawManifest() ([]byte, error) {
	return os.ReadFile(i.s.blobPath(i.rec.ManifestDigest))
}
func (i storedImage) MediaType() (types.MediaType, error) {
	return types.MediaType(i.rec.MediaType), nil
}

func (i storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.rec.Layers {
		if l.Digest == h.String() {
			return storedLayer{s: i.s, l: l}, nil
		}
	}
	if h.String() == i.rec.ID {
		return partial.ConfigLayer(i)
	}
	return nil, os.ErrNotExist
}

type storedLayer struct {
	s      *Service
	l      Layer
	onRead func(int64) // optional: compressed bytes read so far
}

func (l storedLayer) Digest() (v1.Hash, error) { return v1.NewHash(l.l.Digest) }
func (l storedLayer) Compressed() (io.ReadCloser, error) {
	f, err := os.Open(l.s.blobPath(l.l.Digest))
	if err != nil {
		return nil, err
	}
	if l.onRead == nil {
		return f, nil
	}
	return &countingReader{ReadCloser: f, onRead: l.onRead}, nil
}
func (l storedLayer) Size() (int64, error)                { return l.l.Size, nil }
func (l storedLayer) MediaType() (types.MediaType, error) { return types.MediaType(l.l.MediaType), nil }

// v1Image returns the stored image as a v1.Image.
func (s *Service) v1Image(rec *record) (v1.Image, error) {
	return partial.CompressedToImage(storedImage{s: s, rec: rec})
}
