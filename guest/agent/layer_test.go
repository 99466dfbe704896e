//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestLayerIsTheUpperDirectoryWithOCIWhiteouts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("whiteouts are character devices and opaque directories trusted xattrs: this test runs as root")
	}
	upper := t.TempDir()
	uid, gid := testOwner()
	mtime := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
	// Added and modified files, a symbolic and a hard link, a deleted
	// file, a directory replaced as a whole (opaque), pier's own files.
	write(t, filepath.Join(upper, "srv/hello"), "hello\n", 0o640)
	os.Lchown(filepath.Join(upper, "srv/hello"), uid, gid)
	os.Chtimes(filepath.Join(upper, "srv/hello"), mtime, mtime)
	os.Link(filepath.Join(upper, "srv/hello"), filepath.Join(upper, "srv/again"))
	os.Symlink("hello", filepath.Join(upper, "srv/link"))
	if err := unix.Mknod(filepath.Join(upper, "srv/gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "var/cache/fresh"), "x", 0o644)
	if err := unix.Setxattr(filepath.Join(upper, "var/cache"), opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(upper, "var/cache"), 0o750)
	write(t, filepath.Join(upper, "etc/hostname"), "h", 0o644)
	write(t, filepath.Join(upper, "etc/hosts"), "h", 0o644)
	// In the VM the upper directory is reached through a /proc/self/fd link.
	link := filepath.Join(t.TempDir(), "upper")
	os.Symlink(upper, link)
	c := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) { return link, "" }})
	rc, err := c.Layer(testCtx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rc); err != nil {
		t.Fatalf("reading the layer: %v", err)
	}
	rc.Close()
	entries := readTar(t, bytes.NewReader(buf.Bytes()))
	var names []string
	byName := map[string]entry{}
	for _, e := range entries {
		names = append(names, e.Name)
		byName[e.Name] = e
	}
	want := []string{"srv/", "srv/again", "srv/.wh.gone", "srv/hello", "srv/link", "var/", "var/cache/", "var/cache/.wh..wh..opq", "var/cache/fresh"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("layer = %q\nwant %q", names, want)
	}
	// srv/again comes first in path order: srv/hello is its hard link.
	again, hello := byName["srv/again"], byName["srv/hello"]
	if again.Type != tar.TypeReg || again.Data != "hello\n" || again.Mode&0o7777 != 0o640 || again.UID != uid || again.GID != gid || again.Mtime != mtime.Unix() {
		t.Fatalf("srv/again = %+v", again)
	}
	if hello.Type != tar.TypeLink || hello.Link != "srv/again" {
		t.Fatalf("srv/hello = %+v, want a hard link to srv/again", hello)
	}
	if e := byName["srv/link"]; e.Type != tar.TypeSymlink || e.Link != "hello" {
		t.Fatalf("srv/link = %+v", e)
	}
	if e := byName["srv/.wh.gone"]; e.Type != tar.TypeReg || e.Data != "" || e.Mode != 0o600 {
		t.Fatalf("whiteout = %+v", e)
	}
	if e := byName["var/cache/.wh..wh..opq"]; e.Type != tar.TypeReg || e.Data != "" || e.Mode != 0o750 {
		t.Fatalf("opaque marker = %+v", e)
	}
}

func TestLayerKeepsEtcWhenItHoldsMoreThanPiersFiles(t *testing.T) {
	upper := t.TempDir()
	write(t, filepath.Join(upper, "etc/hostname"), "h", 0o644)
	write(t, filepath.Join(upper, "etc/motd"), "hi", 0o644)
	c := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) { return upper, "" }})
	rc, err := c.Layer(testCtx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	for _, e := range readTar(t, rc) {
		names = append(names, e.Name)
	}
	if want := []string{"etc/", "etc/motd"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("layer = %q, want %q", names, want)
	}
}

func TestLayerOfAnEmptyUpperIsTheEmptyTar(t *testing.T) {
	upper := t.TempDir()
	write(t, filepath.Join(upper, "etc/resolv.conf"), "nameserver 10.0.0.1", 0o644)
	c := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) { return upper, "" }})
	rc, err := c.Layer(testCtx(t), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	// Docker's empty layer: the end-of-archive marker alone, 1024 zeros.
	if !bytes.Equal(b, make([]byte, 1024)) {
		t.Fatalf("empty layer = %d bytes %q", len(b), b)
	}
}

func TestLayerWithoutAWritableLayerFails(t *testing.T) {
	c := dialFiles(t, t.TempDir(), Hooks{})
	if _, err := c.Layer(testCtx(t), false); err == nil {
		t.Fatal("a layer without a mounted writable layer")
	}
}
