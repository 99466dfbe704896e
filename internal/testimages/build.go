package testimages

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultPath is the PATH of every test image.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var (
	cacheMu sync.Mutex
	cache   = map[string]*Set{}
)

// Build returns the test image Set made from the busybox-static packages in
// debDir. The result is built once per directory and process; errors wrap
// ErrMissingPrerequisite when the packages or tools are missing.
func Build(debDir string) (*Set, error) {
	abs, err := filepath.Abs(debDir)
	if err != nil {
		return nil, err
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if s, ok := cache[abs]; ok {
		return s, nil
	}
	s, err := build(abs)
	if err != nil {
		return nil, err
	}
	cache[abs] = s
	return s, nil
}

// form is a manifest flavour: Docker v2 schema 2 or OCI.
type form struct {
	manifest, config, layer, index types.MediaType
}

var (
	dockerForm = form{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, types.DockerManifestList}
	ociForm    = form{types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, types.OCIImageIndex}
)

// platforms are the architectures the busybox images exist for.
var platforms = []v1.Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
}

func build(debDir string) (*Set, error) {
	bins := map[string][]byte{}
	for _, p := range platforms {
		deb, err := debPath(debDir, p.Architecture)
		if err != nil {
			return nil, err
		}
		if bins[p.Architecture], err = busyboxFromDeb(deb); err != nil {
			return nil, err
		}
	}
	names, err := applets(bins)
	if err != nil {
		return nil, err
	}
	roots := map[string][]byte{}
	for arch, bin := range bins {
		if roots[arch], err = tarOf(rootFiles(bin, names)); err != nil {
			return nil, err
		}
	}

	b := builder{roots: roots}
	oci := map[string]v1.Image{}
	docker := map[string]v1.Image{}
	for _, p := range platforms {
		if oci[p.Architecture], err = b.busybox(p, ociForm); err != nil {
			return nil, err
		}
		if docker[p.Architecture], err = b.busybox(p, dockerForm); err != nil {
			return nil, err
		}
	}
	app, err := b.app()
	if err != nil {
		return nil, err
	}
	layers, err := b.layers()
	if err != nil {
		return nil, err
	}
	set := &Set{Entries: []Entry{
		{Name: Busybox, Tag: Latest, Index: index(oci, ociForm)},
		{Name: Busybox, Tag: DockerList, Index: index(docker, dockerForm)},
		{Name: BusyboxAMD64, Tag: Latest, Image: docker["amd64"]},
		{Name: BusyboxARM64, Tag: Latest, Image: oci["arm64"]},
		{Name: App, Tag: Latest, Image: app},
		{Name: Layers, Tag: Latest, Image: layers},
	}}
	// Compute every digest now, so a broken build fails here and not in
	// the middle of a test.
	for _, e := range set.Entries {
		if _, err := e.Digest(); err != nil {
			return nil, fmt.Errorf("test image %s: %w", e.Ref(), err)
		}
	}
	return set, nil
}

// builder makes images from the per-architecture root filesystem tars.
type builder struct {
	roots map[string][]byte // arch -> uncompressed tar
}

func (b builder) busybox(p v1.Platform, f form) (v1.Image, error) {
	return b.image(p, f, baseConfig(), nil)
}

func (b builder) app() (v1.Image, error) {
	cfg := baseConfig()
	cfg.Env = append(cfg.Env, "FOO=bar")
	cfg.User = "app"
	cfg.WorkingDir = "/home/app"
	cfg.Entrypoint = []string{"/bin/echo", "entry"}
	cfg.Cmd = []string{"cmd"}
	cfg.ExposedPorts = map[string]struct{}{"80/tcp": {}, "53/udp": {}}
	cfg.Healthcheck = &v1.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: time.Second}
	cfg.Labels = map[string]string{"org.pier.test": "yes"}
	return b.image(platforms[0], ociForm, cfg, nil)
}

func (b builder) layers() (v1.Image, error) {
	var tars [][]byte
	for _, files := range extraLayers() {
		t, err := tarOf(files)
		if err != nil {
			return nil, err
		}
		tars = append(tars, t)
	}
	return b.image(platforms[0], dockerForm, baseConfig(), tars)
}

// image assembles the busybox root for p plus the extra layer tars.
func (b builder) image(p v1.Platform, f form, cfg v1.Config, extra [][]byte) (v1.Image, error) {
	root, ok := b.roots[p.Architecture]
	if !ok {
		return nil, fmt.Errorf("no busybox root for %s", p.Architecture)
	}
	img, err := mutate.ConfigFile(mutate.ConfigMediaType(mutate.MediaType(empty.Image, f.manifest), f.config),
		&v1.ConfigFile{
			Created:      v1.Time{Time: epoch},
			OS:           p.OS,
			Architecture: p.Architecture,
			Variant:      p.Variant,
			Config:       cfg,
			RootFS:       v1.RootFS{Type: "layers"},
		})
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for i, t := range append([][]byte{root}, extra...) {
		l, err := tarball.LayerFromOpener(opener(t), tarball.WithMediaType(f.layer), tarball.WithCompressedCaching)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{
			Created:   v1.Time{Time: epoch},
			CreatedBy: fmt.Sprintf("pier testimages layer %d", i),
		}})
	}
	return mutate.Append(img, adds...)
}

func baseConfig() v1.Config {
	return v1.Config{Env: []string{"PATH=" + DefaultPath}, Cmd: []string{"sh"}}
}

func opener(b []byte) tarball.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// index puts one image per platform under an index of form f.
func index(byArch map[string]v1.Image, f form) v1.ImageIndex {
	var adds []mutate.IndexAddendum
	for _, p := range platforms {
		p := p
		adds = append(adds, mutate.IndexAddendum{
			Add:        plainImage{byArch[p.Architecture]},
			Descriptor: v1.Descriptor{MediaType: f.manifest, Platform: &p},
		})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, f.index), adds...)
}

// plainImage describes itself without the artifactType go-containerregistry
// would otherwise put in index entries: indexes built by docker have none.
type plainImage struct{ v1.Image }

func (p plainImage) Descriptor() (*v1.Descriptor, error) {
	d := &v1.Descriptor{}
	var err error
	if d.MediaType, err = p.MediaType(); err != nil {
		return nil, err
	}
	if d.Digest, err = p.Digest(); err != nil {
		return nil, err
	}
	if d.Size, err = p.Size(); err != nil {
		return nil, err
	}
	return d, nil
}
