package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/pier-vm/pier/guest/proto"
)

// export writes the image just pushed as host/repo:tag to a docker-save
// tarball under <root>/exports, hands it to pierd and waits for its reply.
func (b *Bridge) export(ctx context.Context, reg http.Handler, host, repo, tag string) error {
	img, err := b.storedImage(reg, repo, tag)
	if err != nil {
		return err
	}
	var ref name.Reference
	var names []string
	if host == PlaceholderHost {
		// No name for pierd, none in the tarball either.
		dig, err := img.Digest()
		if err != nil {
			return err
		}
		if ref, err = name.NewDigest(host + "/" + repo + "@" + dig.String()); err != nil {
			return err
		}
	} else {
		n := refString(host, repo, tag)
		if ref, err = name.NewTag(n); err != nil {
			return err
		}
		names = []string{n}
	}
	f, err := os.CreateTemp(b.exports, "export-*.tar")
	if err != nil {
		return err
	}
	path := f.Name()
	defer os.Remove(path)
	err = tarball.Write(ref, img, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the image's tarball: %w", err)
	}
	_, err = b.host.Request(ctx, proto.BuilderRequest{Op: proto.BuilderExport, Path: path, Names: names})
	return err
}

// storedImage is the image repo:ref of reg; for an index, the image of
// the daemon's platform in it (or its first image), attestations left out.
func (b *Bridge) storedImage(reg http.Handler, repo, ref string) (v1.Image, error) {
	raw, mt, err := getManifest(reg, repo, ref)
	if err != nil {
		return nil, err
	}
	if mt.IsIndex() {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		var pick *v1.Descriptor
		for i := range idx.Manifests {
			d := &idx.Manifests[i]
			if !d.MediaType.IsImage() || d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
				continue
			}
			if pick == nil {
				pick = d
			}
			if d.Platform != nil && d.Platform.String() == b.platform {
				pick = d
				break
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("the index %s:%s has no image", repo, ref)
		}
		if raw, mt, err = getManifest(reg, repo, pick.Digest.String()); err != nil {
			return nil, err
		}
	}
	if !mt.IsImage() {
		return nil, fmt.Errorf("%s:%s is a %s, not an image", repo, ref, mt)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	return partial.CompressedToImage(&blobImage{b: b, repo: repo, raw: raw, mt: mt, m: m})
}

func getManifest(reg http.Handler, repo, ref string) ([]byte, types.MediaType, error) {
	rec := call(reg, http.MethodGet, "/v2/"+repo+"/manifests/"+ref, "", nil)
	if rec.Code != http.StatusOK {
		return nil, "", fmt.Errorf("reading the manifest %s:%s: %d %s", repo, ref, rec.Code, rec.Body.String())
	}
	return rec.Body.Bytes(), types.MediaType(rec.Header().Get("Content-Type")), nil
}

// blobImage is an image whose blobs are read from the bridge's blob store.
type blobImage struct {
	b    *Bridge
	repo string
	raw  []byte
	mt   types.MediaType
	m    *v1.Manifest
}

func (i *blobImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *blobImage) RawConfigFile() ([]byte, error) {
	rc, err := i.b.blobs.Get(context.Background(), i.repo, i.m.Config.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &blobLayer{i: i, d: i.m.Config}, nil
	}
	for _, d := range i.m.Layers {
		if d.Digest == h {
			return &blobLayer{i: i, d: d}, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in the image", h)
}

type blobLayer struct {
	i *blobImage
	d v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.d.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.d.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.d.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	return l.i.b.blobs.Get(context.Background(), l.i.repo, l.d.Digest)
}
