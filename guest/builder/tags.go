package builder

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/pier-vm/pier/guest/proto"
)

// tagImage is one platform's image of a tag the bridge got from pierd: its
// manifest's descriptor (the image's tarball is gone by then; its blobs
// and manifest are in the registry).
type tagImage struct {
	manifest
	platform v1.Platform
	config   v1.Hash // the image's ID in pierd
}

// changedInPierd says whether pierd's image for key and platform is no
// longer the one the bridge got (config digest config): the tag was
// rebuilt or pulled again since. When pierd cannot say (it has no such
// image any more), the bridge keeps what it has.
func (b *Bridge) changedInPierd(ctx context.Context, key, platform string, config v1.Hash) bool {
	reply, err := b.host.Request(ctx, proto.BuilderRequest{Op: proto.BuilderLookup, Ref: key, Platform: platform})
	if err != nil {
		return false
	}
	return reply.Image != config.String()
}

// manifest describes a stored manifest (mutate.Appendable).
type manifest struct {
	mt     types.MediaType
	digest v1.Hash
	size   int64
}

func (m manifest) MediaType() (types.MediaType, error) { return m.mt, nil }
func (m manifest) Digest() (v1.Hash, error)            { return m.digest, nil }
func (m manifest) Size() (int64, error)                { return m.size, nil }

// resolveTag makes sure the tag host/repo:tag has pierd's image for
// platform: pierd stores one image per platform under a tag, and a build
// may want several (FROM --platform, a build for another architecture).
// The tag then names an index of every platform's image the bridge got,
// from which BuildKit picks the one it wants.
func (b *Bridge) resolveTag(ctx context.Context, reg http.Handler, host, repo, tag, platform string) error {
	key := refString(host, repo, tag)
	_, err, _ := b.flight.Do(key+"|"+platform, func() (any, error) {
		b.mu.Lock()
		cached, have := b.tags[key][platform]
		b.mu.Unlock()
		if have && !b.changedInPierd(ctx, key, platform, cached.config) {
			return nil, nil
		}
		return nil, b.resolveTagOnce(ctx, reg, host, repo, tag, platform)
	})
	return err
}

func (b *Bridge) resolveTagOnce(ctx context.Context, reg http.Handler, host, repo, tag, platform string) error {
	key := refString(host, repo, tag)
	return b.fromPierd(ctx, key, platform, func(img v1.Image) error {
		return b.addToTag(ctx, reg, key, repo, tag, platform, img)
	})
}

// addToTag stores img (pierd's image of key for platform) and rewrites the
// tag's index with it.
func (b *Bridge) addToTag(ctx context.Context, reg http.Handler, key, repo, tag, platform string, img v1.Image) error {
	dig, err := img.Digest()
	if err != nil {
		return err
	}
	if err := b.store(ctx, reg, repo, dig.String(), img); err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	// The image's own platform; what was asked for where its config is
	// silent.
	p := v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if p.Architecture == "" {
		if asked, err := v1.ParsePlatform(platform); err == nil {
			p = *asked
		}
	}
	if p.OS == "" {
		p.OS = "linux"
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	size, err := img.Size()
	if err != nil {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock() // the index is written under the lock: a concurrent resolve of another platform must not put back an older one
	if b.tags == nil {
		b.tags = map[string]map[string]tagImage{}
	}
	if b.tags[key] == nil {
		b.tags[key] = map[string]tagImage{}
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return err
	}
	b.tags[key][platform] = tagImage{manifest: manifest{mt: mt, digest: dig, size: size}, platform: p, config: cfgName}
	// One entry per distinct image (a platform asked for under two
	// spellings gets the same image once).
	idx := v1.ImageIndex(empty.Index)
	seen := map[v1.Hash]bool{}
	for _, ti := range b.tags[key] {
		if seen[ti.digest] {
			continue
		}
		seen[ti.digest] = true
		pl := ti.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: ti.manifest, Descriptor: v1.Descriptor{Platform: &pl}})
	}
	idxType, err := idx.MediaType()
	if err != nil {
		return err
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	if rec := call(reg, http.MethodPut, "/v2/"+repo+"/manifests/"+tag, string(idxType), raw); rec.Code != http.StatusCreated {
		return fmt.Errorf("storing the index of %s: %d %s", key, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	return nil
}
