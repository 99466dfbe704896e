package testimages

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// flatten returns the headers of the image's flattened root filesystem by
// path ("/bin/sh").
func flatten(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	files := map[string]*tar.Header{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatalf("extract: %v", err)
		}
		files["/"+strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/")] = hdr
	}
}

func mustImage(t *testing.T, s *Set, name, tag string) v1.Image {
	t.Helper()
	img, err := s.Image(name, tag)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestBusyboxIndexes(t *testing.T) {
	s := Require(t)
	for _, tc := range []struct {
		tag                            string
		index, manifest, config, layer types.MediaType
	}{
		{Latest, types.OCIImageIndex, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer},
		{DockerList, types.DockerManifestList, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer},
	} {
		idx, err := s.Index(Busybox, tc.tag)
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if im.MediaType != tc.index {
			t.Errorf("%s: index media type %q, want %q", tc.tag, im.MediaType, tc.index)
		}
		if len(im.Manifests) != 2 {
			t.Fatalf("%s: %d children, want 2", tc.tag, len(im.Manifests))
		}
		for i, want := range []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}} {
			d := im.Manifests[i]
			if d.Platform == nil || !d.Platform.Equals(want) {
				t.Errorf("%s child %d: platform %v, want %v", tc.tag, i, d.Platform, want)
			}
			if d.ArtifactType != "" {
				t.Errorf("%s child %d: artifactType %q, want none", tc.tag, i, d.ArtifactType)
			}
			if d.MediaType != tc.manifest {
				t.Errorf("%s child %d: media type %q, want %q", tc.tag, i, d.MediaType, tc.manifest)
			}
			child, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			m, err := child.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.MediaType != tc.config || len(m.Layers) != 1 || m.Layers[0].MediaType != tc.layer {
				t.Errorf("%s child %d: config %q layers %v, want %q and one %q", tc.tag, i, m.Config.MediaType, m.Layers, tc.config, tc.layer)
			}
			cf, err := child.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if got := cf.Platform(); got == nil || !got.Equals(want) {
				t.Errorf("%s child %d: config platform %v, want %v", tc.tag, i, got, want)
			}
		}
	}
}

func TestSingleArchImages(t *testing.T) {
	s := Require(t)
	arm := mustImage(t, s, BusyboxARM64, Latest)
	cf, err := arm.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "arm64" || cf.Variant != "v8" {
		t.Errorf("arm64 config platform %s/%s/%s, want linux/arm64/v8", cf.OS, cf.Architecture, cf.Variant)
	}
	if len(cf.Config.Cmd) != 1 || cf.Config.Cmd[0] != "sh" {
		t.Errorf("Cmd %q, want [sh]", cf.Config.Cmd)
	}
	if len(cf.Config.Env) != 1 || cf.Config.Env[0] != "PATH="+DefaultPath {
		t.Errorf("Env %q", cf.Config.Env)
	}

	// The single-arch images are the very children of the indexes.
	for _, tc := range []struct{ name, tag string }{{BusyboxARM64, Latest}, {BusyboxAMD64, DockerList}} {
		img := mustImage(t, s, tc.name, Latest)
		want, _ := img.Digest()
		idx, _ := s.Index(Busybox, tc.tag)
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, d := range im.Manifests {
			found = found || d.Digest == want
		}
		if !found {
			t.Errorf("%s (%s) is not a child of %s:%s", tc.name, want, Busybox, tc.tag)
		}
	}
}

func TestRootFilesystem(t *testing.T) {
	s := Require(t)
	files := flatten(t, mustImage(t, s, BusyboxAMD64, Latest))
	if h := files["/bin/busybox"]; h == nil || h.Typeflag != tar.TypeReg || h.Size < 100000 {
		t.Fatalf("/bin/busybox missing or too small: %+v", h)
	}
	for _, applet := range []string{"sh", "echo", "ls", "sleep", "["} {
		h := files["/bin/"+applet]
		if h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("/bin/%s is not a symlink to busybox: %+v", applet, h)
		}
	}
	if h := files["/tmp"]; h == nil || h.Mode&0o7777 != 0o1777 {
		t.Errorf("/tmp mode wrong: %+v", h)
	}
	if h := files["/home/app"]; h == nil || h.Uid != 1000 || h.Gid != 1000 {
		t.Errorf("/home/app not owned by 1000: %+v", h)
	}
	if files["/root"] == nil || files["/etc/passwd"] == nil || files["/etc/group"] == nil {
		t.Error("missing /root, /etc/passwd or /etc/group")
	}
}

func TestAppConfig(t *testing.T) {
	s := Require(t)
	cf, err := mustImage(t, s, App, Latest).ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "app" || c.WorkingDir != "/home/app" {
		t.Errorf("User %q WorkingDir %q", c.User, c.WorkingDir)
	}
	if strings.Join(c.Entrypoint, " ") != "/bin/echo entry" || strings.Join(c.Cmd, " ") != "cmd" {
		t.Errorf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}
	if _, ok := c.ExposedPorts["80/tcp"]; !ok {
		t.Error("80/tcp not exposed")
	}
	if _, ok := c.ExposedPorts["53/udp"]; !ok {
		t.Error("53/udp not exposed")
	}
	if c.Healthcheck == nil || strings.Join(c.Healthcheck.Test, " ") != "CMD-SHELL true" || c.Healthcheck.Interval.Seconds() != 1 {
		t.Errorf("Healthcheck %+v", c.Healthcheck)
	}
	if c.Labels["org.pier.test"] != "yes" {
		t.Errorf("Labels %v", c.Labels)
	}
	if strings.Join(c.Env, " ") != "PATH="+DefaultPath+" FOO=bar" {
		t.Errorf("Env %q", c.Env)
	}
}

func TestLayersWhiteouts(t *testing.T) {
	s := Require(t)
	img := mustImage(t, s, Layers, Latest)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) < 3 {
		t.Fatalf("%d layers, want 3 or more", len(ls))
	}
	files := flatten(t, img)
	for _, p := range []string{LayersKeptFile, LayersOpaqueDir, LayersOpaqueNewFile, LayersTopFile, "/bin/sh"} {
		if files[p] == nil {
			t.Errorf("%s missing from the flattened root", p)
		}
	}
	for _, p := range []string{LayersDeletedFile, LayersOpaqueOldFile, LayersOpaqueOldSubdir, LayersOpaqueOldSubdir + "/deep"} {
		if files[p] != nil {
			t.Errorf("%s should be whited out", p)
		}
	}
	for p := range files {
		if strings.Contains(p, ".wh.") {
			t.Errorf("whiteout marker %s leaked into the flattened root", p)
		}
	}
}

func TestDigestsStable(t *testing.T) {
	Require(t) // skip or fail the same way as the others
	dir, err := DebDir()
	if err != nil {
		t.Fatal(err)
	}
	a, err := build(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := build(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[v1.Hash]string{}
	for i, e := range a.Entries {
		da, _ := e.Digest()
		db, _ := b.Entries[i].Digest()
		if da != db {
			t.Errorf("%s: digest %s then %s", e.Ref(), da, db)
		}
		if other, dup := seen[da]; dup {
			t.Errorf("%s and %s share digest %s", e.Ref(), other, da)
		}
		seen[da] = e.Ref()
	}
}

func TestMissingDebs(t *testing.T) {
	_, err := Build(t.TempDir())
	if !errors.Is(err, ErrMissingPrerequisite) {
		t.Fatalf("Build(empty dir) = %v, want ErrMissingPrerequisite", err)
	}
}

func TestDebDirFindsRepoRoot(t *testing.T) {
	dir, err := DebDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(dir)), "go.mod")); err != nil {
		t.Errorf("DebDir %s is not <repo root>/testdata/cache: %v", dir, err)
	}
}

func TestLookupErrors(t *testing.T) {
	s := &Set{Entries: []Entry{{Name: "x", Tag: "y"}}}
	if _, err := s.Image("nope", "latest"); err == nil {
		t.Error("Image of an unknown name succeeded")
	}
	if _, err := s.Index("x", "y"); err == nil {
		t.Error("Index of an entry without index succeeded")
	}
	if _, err := s.Image("x", "y"); err == nil {
		t.Error("Image of an entry without image succeeded")
	}
	if _, err := (Entry{}).Digest(); err == nil {
		t.Error("Digest of an empty entry succeeded")
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the test.
type recorder struct {
	testing.TB
	skipped, failed bool
}

func (r *recorder) Helper()               { r.TB.Helper() }
func (r *recorder) Skipf(string, ...any)  { r.skipped = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true }

func TestRequireMissingDebs(t *testing.T) {
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		if set := requireFrom(r, t.TempDir()); set != nil {
			t.Errorf("CI=%q: got a set from an empty dir", ci)
		}
		if want := ci == "true"; r.failed != want || r.skipped == want {
			t.Errorf("CI=%q: failed=%v skipped=%v", ci, r.failed, r.skipped)
		}
	}
}
