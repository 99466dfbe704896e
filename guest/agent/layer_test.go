//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
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

// mountScratchExt4 mounts a fresh ext4 file system (a loop device) in a
// temp directory, as the guest's writable disk is one.
func mountScratchExt4(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("mounting a scratch ext4 needs root: this test runs as root")
	}
	img := filepath.Join(t.TempDir(), "rw.img")
	mnt := t.TempDir()
	for _, args := range [][]string{{"truncate", "-s", "64M", img}, {"mkfs.ext4", "-q", "-F", img}, {"mount", "-o", "loop", img, mnt}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	t.Cleanup(func() {
		// Thawed whatever happened, then gone.
		if fd, err := unix.Open(mnt, unix.O_RDONLY, 0); err == nil {
			unix.IoctlSetInt(fd, fithaw, 0)
			unix.Close(fd)
		}
		exec.Command("umount", mnt).Run()
	})
	return mnt
}

func TestLayerFreezeHoldsWritesUntilTheLayerIsRead(t *testing.T) {
	mnt := mountScratchExt4(t)
	upper := filepath.Join(mnt, "upper")
	// More than the stream's window (256 KiB): the agent is still
	// writing the layer, so still freezing, until the host reads.
	write(t, filepath.Join(upper, "hello"), strings.Repeat("world\n", 1<<20), 0o644)
	c := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) { return upper, "" }})
	rc, err := c.Layer(testCtx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- os.WriteFile(filepath.Join(upper, "during"), []byte("x"), 0o644) }()
	select {
	case err := <-wrote:
		t.Fatalf("a write went through while the layer was being read (%v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range readTar(t, bytes.NewReader(b)) {
		names = append(names, e.Name)
	}
	if !reflect.DeepEqual(names, []string{"hello"}) {
		t.Fatalf("layer = %q, want the moment of the freeze", names)
	}
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("the held write failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the file system stayed frozen after the layer was read")
	}
	// Two frozen reads in a row: the second waits for the first's thaw.
	for range 2 {
		rc, err := c.Layer(testCtx(t), true)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, rc)
		rc.Close()
	}
}
