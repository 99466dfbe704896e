package volume

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestStoreLifecycle(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := s.Create("data", map[string]string{"a": "b"}, nil)
	if err != nil || !created {
		t.Fatal(err)
	}
	if v.Driver != DriverLocal || v.Mountpoint != filepath.Join(root, "data", "_data") || v.Anonymous {
		t.Fatalf("created %+v", v)
	}
	if again, created, err := s.Create("data", nil, nil); err != nil || created || again.CreatedAt != v.CreatedAt || again.Labels["a"] != "b" {
		t.Fatalf("create of an existing volume: %+v %v", again, err)
	}
	anon, created, err := s.Create("", nil, nil)
	if err != nil || !created || !anon.Anonymous || len(anon.Name) != 64 {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("12345"), 0o644)
	if n := s.Size("data"); n != 5 {
		t.Fatalf("size %d", n)
	}
	for _, bad := range []string{"a", "-x", "bad name", "a/b"} {
		if _, _, err := s.Create(bad, nil, nil); !errdefs.IsInvalidParameter(err) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, _, err := s.Create("opts", nil, map[string]string{"type": "nfs"}); errdefs.KindOf(err) != errdefs.KindNotImplemented {
		t.Fatalf("driver options: %v", err)
	}
	// Reopen: both volumes are back, with their data.
	s2, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if l := s2.List(); len(l) != 2 || l[1].Name != "data" && l[0].Name != "data" {
		t.Fatalf("reopened: %+v", l)
	}
	if err := s2.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "data")); !os.IsNotExist(err) {
		t.Fatalf("data left after remove: %v", err)
	}
	if _, err := s2.Get("data"); !errdefs.IsNotFound(err) || err.Error() != "get data: no such volume" {
		t.Fatalf("get after remove: %v", err)
	}
	if err := s2.Remove("data"); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v", err)
	}
	// A directory without metadata (a crash mid-create) is not a volume.
	os.MkdirAll(filepath.Join(root, "half", "_data"), 0o755)
	if s3, _ := Open(root); len(s3.List()) != 1 {
		t.Fatalf("half-created volume loaded: %+v", s3.List())
	}
}
