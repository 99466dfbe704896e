//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// dialFiles serves an agent whose container root is root.
func dialFiles(t *testing.T, root string, hooks Hooks) *proto.Client {
	t.Helper()
	hostEnd, guestEnd := net.Pipe()
	a := New(testReaper, hooks, "test-kernel", WithRoot(root))
	go a.Serve(guestEnd)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := proto.Dial(ctx, hostEnd)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func write(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// testOwner is an owner the test can give files: another user as root.
func testOwner() (int, int) {
	if os.Geteuid() == 0 {
		return 1234, 5678
	}
	return os.Getuid(), os.Getgid()
}

func TestStatPathResolvesInsideTheRoot(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "etc/passwd"), "root:x:0:0::/:/bin/sh\n", 0o644)
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(filepath.Join(root, "etc/passwd"), mtime, mtime)
	os.Symlink("/etc/passwd", filepath.Join(root, "abs"))
	os.Symlink("../../../../etc/passwd", filepath.Join(root, "rel"))
	os.Symlink("/", filepath.Join(root, "etc/up"))
	c := dialFiles(t, root, Hooks{})
	ctx := testCtx(t)

	st, err := c.StatPath(ctx, "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "passwd" || st.Size != 22 || st.Mode != 0o644 || !st.Mtime.Equal(mtime) || st.LinkTarget != "" {
		t.Fatalf("stat /etc/passwd = %+v", st)
	}
	// ".." stops at the container's root.
	st, err = c.StatPath(ctx, "../../../etc/passwd")
	if err != nil || st.Size != 22 {
		t.Fatalf("stat ../../../etc/passwd = %+v, %v (want the container's file)", st, err)
	}
	for _, link := range []string{"/abs", "/rel"} {
		st, err = c.StatPath(ctx, link)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode&os.ModeSymlink == 0 || st.LinkTarget != "/etc/passwd" {
			t.Fatalf("stat %s = %+v, want a link to /etc/passwd inside the root", link, st)
		}
	}
	// A symbolic link in the middle of a path is followed inside the root.
	st, err = c.StatPath(ctx, "/etc/up/etc/passwd")
	if err != nil || st.Size != 22 {
		t.Fatalf("stat through /etc/up = %+v, %v", st, err)
	}
	_, err = c.StatPath(ctx, "/nothing/here")
	if proto.ErrorCodeOf(err) != proto.CodeNotFound {
		t.Fatalf("stat of a missing path: %v (code %q), want not-found", err, proto.ErrorCodeOf(err))
	}
}

// entry is what a test compares of a tar entry.
type entry struct {
	Name     string
	Type     byte
	Mode     int64
	UID, GID int
	Mtime    int64
	Link     string
	Data     string
}

func readTar(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out = append(out, entry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.ModTime.Unix(), hdr.Linkname, string(b)})
	}
}

func TestArchiveAndExtractKeepModeOwnerAndMtime(t *testing.T) {
	src := t.TempDir()
	uid, gid := testOwner()
	mtime := time.Date(2021, 6, 7, 8, 9, 10, 0, time.UTC)
	write(t, filepath.Join(src, "data/run.sh"), "#!/bin/sh\n", os.ModeSetuid|0o750)
	write(t, filepath.Join(src, "data/sub/notes.txt"), "hello\n", 0o600)
	os.Symlink("sub/notes.txt", filepath.Join(src, "data/link"))
	os.Link(filepath.Join(src, "data/sub/notes.txt"), filepath.Join(src, "data/hard"))
	for _, p := range []string{"data/run.sh", "data/sub/notes.txt", "data/sub", "data"} {
		if err := os.Lchown(filepath.Join(src, p), uid, gid); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(src, "data/run.sh"), os.ModeSetuid|0o750) // chown cleared set-uid
		os.Chtimes(filepath.Join(src, p), mtime, mtime)
	}
	c := dialFiles(t, src, Hooks{})
	ctx := testCtx(t)

	st, rc, err := c.Archive(ctx, "/data")
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "data" || !st.Mode.IsDir() {
		t.Fatalf("archive stat = %+v", st)
	}
	var buf bytes.Buffer
	io.Copy(&buf, rc)
	rc.Close()
	entries := readTar(t, bytes.NewReader(buf.Bytes()))
	names := map[string]entry{}
	for _, e := range entries {
		names[e.Name] = e
	}
	if e := names["data/"]; e.Type != tar.TypeDir || e.UID != uid || e.Mtime != mtime.Unix() {
		t.Fatalf("data/ = %+v in %+v", e, entries)
	}
	if e := names["data/run.sh"]; e.Mode&0o7777 != 0o4750 || e.UID != uid || e.GID != gid || e.Data != "#!/bin/sh\n" {
		t.Fatalf("data/run.sh = %+v", e)
	}
	if e := names["data/link"]; e.Type != tar.TypeSymlink || e.Link != "sub/notes.txt" {
		t.Fatalf("data/link = %+v", e)
	}
	hard, notes := names["data/hard"], names["data/sub/notes.txt"]
	if (hard.Type == tar.TypeLink) == (notes.Type == tar.TypeLink) || hard.Data+notes.Data != "hello\n" {
		t.Fatalf("hard link written twice or never: hard=%+v notes=%+v", hard, notes)
	}

	// Into another root: the same files, modes, owners and times.
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "target"), 0o755)
	d := dialFiles(t, dst, Hooks{})
	if err := d.Extract(ctx, "/target", proto.ExtractOptions{}, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"run.sh", "sub/notes.txt", "sub", "."} {
		a, _ := os.Lstat(filepath.Join(src, "data", p))
		b, err := os.Lstat(filepath.Join(dst, "target/data", p))
		if err != nil {
			t.Fatal(err)
		}
		as, bs := a.Sys().(*syscall.Stat_t), b.Sys().(*syscall.Stat_t)
		if a.Mode() != b.Mode() || !a.ModTime().Equal(b.ModTime()) || as.Uid != bs.Uid || as.Gid != bs.Gid {
			t.Fatalf("%s: copied %v %v %d:%d, source %v %v %d:%d", p, b.Mode(), b.ModTime(), bs.Uid, bs.Gid, a.Mode(), a.ModTime(), as.Uid, as.Gid)
		}
	}
	if l, _ := os.Readlink(filepath.Join(dst, "target/data/link")); l != "sub/notes.txt" {
		t.Fatalf("link = %q", l)
	}
	h, _ := os.Stat(filepath.Join(dst, "target/data/hard"))
	n, _ := os.Stat(filepath.Join(dst, "target/data/sub/notes.txt"))
	if !os.SameFile(h, n) {
		t.Fatal("the hard link was not kept")
	}
}

func TestArchiveOfADirectorysContentAndOfAFile(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "d/f"), "x", 0o644)
	c := dialFiles(t, root, Hooks{})
	ctx := testCtx(t)
	names := func(p string) []string {
		_, rc, err := c.Archive(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var out []string
		for _, e := range readTar(t, rc) {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names("/d/."); !reflect.DeepEqual(got, []string{"./", "./f"}) {
		t.Fatalf("/d/. = %q", got)
	}
	if got := names("/d/f"); !reflect.DeepEqual(got, []string{"f"}) {
		t.Fatalf("/d/f = %q", got)
	}
	if _, _, err := c.Archive(ctx, "/d/missing"); proto.ErrorCodeOf(err) != proto.CodeNotFound {
		t.Fatalf("archive of a missing path: %v", err)
	}
}

func tarOf(t *testing.T, hdrs ...*tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(h.Linkname))
		}
		data := ""
		if h.Typeflag == tar.TypeReg {
			data, h.Linkname = h.Linkname, ""
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(data))
	}
	tw.Close()
	return buf.Bytes()
}

// file is a regular-file header whose Linkname carries its content (tarOf).
func file(name, data string) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Linkname: data, ModTime: time.Unix(1600000000, 0)}
}

func TestExtractCannotEscapeTheRoot(t *testing.T) {
	outside := t.TempDir()
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "dst"), 0o755)
	os.Symlink(outside, filepath.Join(root, "dst/abs"))             // an absolute link: the container's own path
	os.Symlink("../../../../../..", filepath.Join(root, "dst/rel")) // climbs above the root
	c := dialFiles(t, root, Hooks{})
	ctx := testCtx(t)

	archive := tarOf(t,
		file("../../../../escaped-dotdot", "1"),
		file("abs/escaped-abs", "2"),
		file("rel/escaped-rel", "3"),
	)
	if err := c.Extract(ctx, "/dst", proto.ExtractOptions{}, bytes.NewReader(archive)); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files escaped the root into %s: %v", outside, ents)
	}
	for _, p := range []string{"dst/escaped-dotdot", filepath.Join(outside[1:], "escaped-abs"), "escaped-rel"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("want %s inside the root: %v", p, err)
		}
	}
	// An extraction point through a link that climbs out lands inside.
	if err := c.Extract(ctx, "/dst/rel", proto.ExtractOptions{}, bytes.NewReader(tarOf(t, file("top", "4")))); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "top")); err != nil || string(b) != "4" {
		t.Fatalf("top: %q %v", b, err)
	}
	// A relative symbolic link pointing above the extraction point is
	// refused, as dockerd refuses it.
	bad := tarOf(t, &tar.Header{Name: "evil", Typeflag: tar.TypeSymlink, Linkname: "../../x", Mode: 0o777})
	if err := c.Extract(ctx, "/dst", proto.ExtractOptions{}, bytes.NewReader(bad)); proto.ErrorCodeOf(err) != proto.CodeInvalid {
		t.Fatalf("symlink above the extraction point: %v", err)
	}
}

func TestExtractRefusals(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "file"), "x", 0o644)
	os.MkdirAll(filepath.Join(root, "dir/sub"), 0o755)
	c := dialFiles(t, root, Hooks{})
	ctx := testCtx(t)
	empty := tarOf(t)
	if err := c.Extract(ctx, "/file", proto.ExtractOptions{}, bytes.NewReader(empty)); proto.ErrorCodeOf(err) != proto.CodeInvalid || err.Error() != "extraction point is not a directory" {
		t.Fatalf("into a file: %v", err)
	}
	if err := c.Extract(ctx, "/missing", proto.ExtractOptions{}, bytes.NewReader(empty)); proto.ErrorCodeOf(err) != proto.CodeNotFound {
		t.Fatalf("into a missing directory: %v", err)
	}
	err := c.Extract(ctx, "/dir", proto.ExtractOptions{NoOverwriteDirNonDir: true}, bytes.NewReader(tarOf(t, file("sub", "y"))))
	if err == nil || err.Error() != `cannot overwrite directory "/dir/sub" with non-directory "sub"` {
		t.Fatalf("directory replaced by a file: %v", err)
	}
	// Without the option the directory is replaced; a missing parent is made.
	if err := c.Extract(ctx, "/dir", proto.ExtractOptions{}, bytes.NewReader(tarOf(t, file("sub", "y"), file("/new/parent/f", "z")))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dir/sub")); string(b) != "y" {
		t.Fatalf("dir/sub = %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "dir/new/parent/f")); string(b) != "z" {
		t.Fatalf("dir/new/parent/f = %q", b)
	}
	// An entry for the extraction point itself never replaces it.
	if err := c.Extract(ctx, "/dir", proto.ExtractOptions{}, bytes.NewReader(tarOf(t, file(".", "boom"), file("a/..", "boom")))); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "dir")); err != nil || !fi.IsDir() {
		t.Fatalf("the extraction point was replaced: %v %v", fi, err)
	}
	if err := c.Extract(ctx, "/dir", proto.ExtractOptions{ChownUser: "nobody"}, bytes.NewReader(empty)); proto.ErrorCodeOf(err) != proto.CodeInvalid {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestExtractChownsToTheContainersUser(t *testing.T) {
	root := t.TempDir()
	uid, gid := testOwner()
	write(t, filepath.Join(root, "etc/passwd"), "app:x:"+strconv.Itoa(uid)+":"+strconv.Itoa(gid)+"::/home/app:/bin/sh\n", 0o644)
	os.MkdirAll(filepath.Join(root, "in"), 0o755)
	c := dialFiles(t, root, Hooks{})
	h := file("f", "data")
	h.Uid, h.Gid = 4242, 4343
	if err := c.Extract(testCtx(t), "/in", proto.ExtractOptions{ChownUser: "app"}, bytes.NewReader(tarOf(t, h))); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "in/f"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || int(st.Gid) != gid {
		t.Fatalf("owner %d:%d, want the user's %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestChangesFollowDockersRules(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("whiteouts are character devices: this test runs as root")
	}
	lower, upper := t.TempDir(), t.TempDir()
	write(t, filepath.Join(lower, "etc/motd"), "old", 0o644)
	write(t, filepath.Join(lower, "etc/gone"), "x", 0o644)
	write(t, filepath.Join(lower, "usr/bin/tool"), "x", 0o755)
	write(t, filepath.Join(lower, "keep/same"), "x", 0o644)
	// The upper layer: /etc/motd modified, /etc/gone deleted, /srv/new
	// added, /keep copied up unchanged, pier's own name files.
	write(t, filepath.Join(upper, "etc/motd"), "new", 0o644)
	if err := unix.Mknod(filepath.Join(upper, "etc/gone"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(upper, "srv/new"), "x", 0o644)
	os.MkdirAll(filepath.Join(upper, "keep"), 0o755)
	fi, _ := os.Stat(filepath.Join(lower, "keep"))
	os.Chtimes(filepath.Join(upper, "keep"), fi.ModTime(), fi.ModTime())
	write(t, filepath.Join(upper, "etc/hostname"), "h", 0o644)
	// In the VM the layers are reached through /proc/self/fd links.
	links := t.TempDir()
	os.Symlink(upper, filepath.Join(links, "upper"))
	os.Symlink(lower, filepath.Join(links, "lower"))
	c := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) {
		return filepath.Join(links, "upper"), filepath.Join(links, "lower")
	}})
	got, err := c.Changes(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Path < got[j].Path })
	want := []proto.Change{
		{Path: "/etc", Kind: proto.ChangeModify},
		{Path: "/etc/gone", Kind: proto.ChangeDelete},
		{Path: "/etc/motd", Kind: proto.ChangeModify},
		{Path: "/srv", Kind: proto.ChangeAdd},
		{Path: "/srv/new", Kind: proto.ChangeAdd},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes = %+v\nwant %+v", got, want)
	}

	// Only pier's own files under /etc: no change at all.
	upper2 := t.TempDir()
	write(t, filepath.Join(upper2, "etc/hosts"), "h", 0o644)
	write(t, filepath.Join(upper2, "etc/resolv.conf"), "h", 0o644)
	c2 := dialFiles(t, t.TempDir(), Hooks{Layers: func() (string, string) { return upper2, lower }})
	if got, err := c2.Changes(testCtx(t)); err != nil || len(got) != 0 {
		t.Fatalf("changes of pier's own files = %+v, %v", got, err)
	}
}

func TestExportIsTheRootsContent(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "bin/sh"), "elf", 0o755)
	write(t, filepath.Join(root, "etc/os-release"), "pier", 0o644)
	c := dialFiles(t, root, Hooks{})
	rc, err := c.Export(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var names []string
	for _, e := range readTar(t, rc) {
		names = append(names, e.Name)
	}
	want := []string{"bin/", "bin/sh", "etc/", "etc/os-release"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("export = %q, want %q", names, want)
	}
}
