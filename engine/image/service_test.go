package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

// fixture is a fresh store next to a registry holding the test images.
type fixture struct {
	s   *Service
	reg *testregistry.Registry
	set *testimages.Set
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	set := testimages.Require(t)
	reg := testregistry.Start(t)
	if err := reg.Push(set); err != nil {
		t.Fatal(err)
	}
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, reg: reg, set: set}
}

// pull pulls ref for plat ("" = host) and fails the test on error.
func (f *fixture) pull(t *testing.T, ref, plat string) *Image {
	t.Helper()
	var p *platform.Platform
	if plat != "" {
		p = mustPlatform(t, plat)
	}
	img, err := f.s.Pull(context.Background(), ref, p, nil, nil)
	if err != nil {
		t.Fatalf("pull %s %s: %v", ref, plat, err)
	}
	return img
}

// childOf returns the manifest and config digests of the child of index
// name:tag for plat.
func (f *fixture) childOf(t *testing.T, name, tag, plat string) (manifest, config string) {
	t.Helper()
	idx, err := f.set.Index(name, tag)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := *mustPlatform(t, plat)
	for _, m := range im.Manifests {
		if m.Platform != nil && want.Matches(*m.Platform) {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return m.Digest.String(), configDigest(t, img)
		}
	}
	t.Fatalf("no %s child in %s:%s", plat, name, tag)
	return "", ""
}

func (f *fixture) single(t *testing.T, name string) (manifest, config string) {
	t.Helper()
	img, err := f.set.Image(name, testimages.Latest)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String(), configDigest(t, img)
}

func configDigest(t *testing.T, img v1.Image) string {
	t.Helper()
	c, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

func mustPlatform(t *testing.T, s string) *platform.Platform {
	t.Helper()
	p, err := platform.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func collect() (*[]Progress, func(Progress)) {
	var mu sync.Mutex
	var lines []Progress
	return &lines, func(p Progress) { mu.Lock(); lines = append(lines, p); mu.Unlock() }
}

func statuses(lines []Progress) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.ID + " " + l.Status + "\n")
	}
	return b.String()
}

// storeFiles lists the blobs, records and temp files under the store root.
func storeFiles(t *testing.T, root string) (blobs, temps []string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasPrefix(d.Name(), ".tmp-") || strings.HasPrefix(d.Name(), ".load-"):
			temps = append(temps, rel)
		case strings.HasPrefix(rel, "blobs"+string(filepath.Separator)):
			blobs = append(blobs, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blobs, temps
}

func TestNewReloadsAndCleans(t *testing.T) {
	f := newFixture(t)
	ref := f.reg.Ref(testimages.BusyboxAMD64, testimages.Latest)
	img := f.pull(t, ref, "")
	stray := filepath.Join(f.s.root, "blobs", "sha256", ".tmp-123")
	if err := os.WriteFile(stray, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s2, err := New(f.s.root)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Resolve(ref, nil)
	if err != nil || got.ID != img.ID || got.Size != img.Size || got.Size <= 0 || len(got.RepoTags) != 1 || got.Platform != img.Platform || got.Config.Config.Env == nil {
		t.Fatalf("after reload: %+v %v; want %+v", got, err, img)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("temp file survived New: %v", err)
	}
}

func TestOptions(t *testing.T) {
	s, err := New(t.TempDir(), WithInsecureRegistries([]string{"reg.example:5000", "10.0.0.0/8"}), WithLogger(nil))
	if err == nil {
		t.Fatal("nil logger accepted")
	}
	s, err = New(t.TempDir(), WithInsecureRegistries([]string{"reg.example:5000", "10.0.0.0/8"}))
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "127.1.2.3": true, "reg.example:5000": true,
		"10.1.2.3:443": true, "reg.example:5001": false, "registry.example": false, "docker.io": false,
	} {
		if got := s.isInsecure(host); got != want {
			t.Errorf("isInsecure(%s) = %v, want %v", host, got, want)
		}
	}
	if _, err := New(t.TempDir(), WithInsecureRegistries([]string{"http://x"})); err == nil {
		t.Fatal("a URL was accepted as an insecure registry")
	}
}
