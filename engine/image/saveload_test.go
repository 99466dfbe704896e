package image

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/internal/testimages"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	f := newFixture(t)
	bb := f.reg.Ref(testimages.Busybox, testimages.Latest)
	arm := f.pull(t, bb, "linux/arm64") // dangling after the next pull
	amd := f.pull(t, bb, "linux/amd64")
	layersRef := f.reg.Ref(testimages.Layers, testimages.Latest)
	layers := f.pull(t, layersRef, "")
	if err := f.s.Tag(layersRef, "mine/layers", "v1"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.s.Save(context.Background(), []string{bb, "mine/layers", layersRef, arm.ID[7:19]}, &buf); err != nil {
		t.Fatal(err)
	}
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil || len(m) != 3 {
		t.Fatalf("manifest.json: %+v %v", m, err)
	}

	fresh, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lines, progress := collect()
	loaded, err := fresh.Load(context.Background(), &buf, progress)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(loaded)
	want := []string{bb, layersRef, "mine/layers:v1", arm.ID}
	sort.Strings(want)
	if !slices.Equal(loaded, want) {
		t.Fatalf("loaded %v, want %v", loaded, want)
	}
	if out := statuses(*lines); !strings.Contains(out, " Loaded image: mine/layers:v1\n") || !strings.Contains(out, " Loaded image ID: "+arm.ID+"\n") {
		t.Fatalf("load progress:\n%s", out)
	}
	for ref, orig := range map[string]*Image{bb: amd, "mine/layers:v1": layers, arm.ID: arm} {
		got, err := fresh.Resolve(ref, nil)
		if err != nil || got.ID != orig.ID || got.Platform != orig.Platform || got.Size != orig.Size {
			t.Errorf("%s after load: %+v %v; want %+v", ref, got, err, orig)
		}
	}
	// A Docker v2 manifest goes through save and load unchanged.
	if got, _ := fresh.Resolve(layersRef, nil); got.ManifestDigest != layers.ManifestDigest {
		t.Errorf("manifest digest %s after load, want %s", got.ManifestDigest, layers.ManifestDigest)
	}
	if _, err := fresh.RootDisk(context.Background(), mustResolve(t, fresh, layersRef)); err != nil {
		t.Fatal(err)
	}
}

func mustResolve(t *testing.T, s *Service, ref string) *Image {
	t.Helper()
	img, err := s.Resolve(ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestLoadOCILayoutArchive loads what Docker 25+ saves: an OCI layout whose
// manifest.json names blobs/sha256/<hex> files, layers uncompressed.
func TestLoadOCILayoutArchive(t *testing.T) {
	set := testimages.Require(t)
	img, err := set.Image(testimages.App, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, data []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(data)
	}
	cfgName, _ := img.ConfigName()
	rawCfg, _ := img.RawConfigFile()
	entry := tarball.Descriptor{Config: "blobs/sha256/" + cfgName.Hex, RepoTags: []string{"docker.io/library/ocitest:v1"}}
	add("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`))
	add(entry.Config, rawCfg)
	layers, _ := img.Layers()
	for _, l := range layers {
		diff, _ := l.DiffID()
		rc, _ := l.Uncompressed()
		data, _ := io.ReadAll(rc)
		rc.Close()
		add("blobs/sha256/"+diff.Hex, data)
		entry.Layers = append(entry.Layers, "blobs/sha256/"+diff.Hex)
	}
	mj, _ := json.Marshal(tarball.Manifest{entry})
	add("manifest.json", mj)
	tw.Close()

	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := s.Load(context.Background(), &buf, nil)
	if err != nil || !slices.Equal(loaded, []string{"ocitest:v1"}) {
		t.Fatalf("load: %v %v", loaded, err)
	}
	got := mustResolve(t, s, "ocitest:v1")
	if got.ID != cfgName.String() || got.Platform.Architecture != "amd64" || got.Size <= 0 {
		t.Fatalf("loaded image %+v", got)
	}
	if _, err := s.RootDisk(context.Background(), got); err != nil {
		t.Fatal(err)
	}
}

func TestSaveLoadErrors(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(context.Background(), []string{"nope"}, io.Discard); !errdefs.IsNotFound(err) || err.Error() != "No such image: nope" {
		t.Fatalf("save of a missing image: %v", err)
	}
	if _, err := s.Load(context.Background(), strings.NewReader("not a tar"), nil); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("load of garbage: %v", err)
	}
	if blobs, temps := storeFiles(t, s.root); len(blobs)+len(temps) != 0 {
		t.Fatalf("left behind: %v %v", blobs, temps)
	}
}
