//go:build linux

package agent

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// hostileRoot is a container root whose symbolic links try every way out:
// absolute targets, ".." chains, links to links and a loop.
func hostileRoot(t testing.TB) string {
	root := t.TempDir()
	for _, d := range []string{"etc", "dir/sub", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"abs":          "/",
		"etcabs":       "/etc",
		"up":           "../../../../..",
		"dir/up":       "../..",
		"dir/sub/deep": "../../../../../../tmp",
		"hop":          "dir/up",
		"loop":         "loop",
		"var/run":      "/proc/self/root",
		"var/lib/host": "/../../..",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// within reports whether p is root or below it.
func within(root, p string) bool {
	return p == root || strings.HasPrefix(p, root+"/")
}

// FuzzArchivePath resolves arbitrary archive API paths (docker cp, HEAD
// and GET /containers/{id}/archive, and tar entries of PUT) inside a root
// full of escaping symbolic links: resolve, lresolve and an extraction's
// place of an entry never give a host path outside the root, and the
// container path they map back to is absolute and clean.
func FuzzArchivePath(f *testing.F) {
	for _, s := range []string{
		"", "/", ".", "..", "../../etc/passwd", "/abs/etc", "up/x", "dir/up/../..", "hop/hop",
		"loop/x", "var/run/etc", "var/lib/host/x", "dir/sub/deep/y", "etcabs/../..", "a\x00b",
		"//./..//.../", strings.Repeat("../", 64) + "etc", "dir/%2e%2e/x", "~root", "abs",
	} {
		f.Add(s, "/")
		f.Add(s, "dir")
	}
	root := hostileRoot(f)
	f.Fuzz(func(t *testing.T, p, dest string) {
		for name, resolver := range map[string]func(string, string) (string, error){"resolve": resolve, "lresolve": lresolve} {
			host, err := resolver(root, p)
			if err != nil {
				continue
			}
			if !within(root, host) {
				t.Fatalf("%s(%q) = %s, outside the root %s", name, p, host, root)
			}
			c := inRoot(root, host)
			if !filepath.IsAbs(c) || filepath.Clean(c) != c {
				t.Fatalf("%s(%q) maps back to %q, not a clean absolute path", name, p, c)
			}
		}
		// An extraction point is a resolved directory; entries go below it.
		destHost, err := resolve(root, dest)
		if err != nil {
			return
		}
		if fi, err := os.Stat(destHost); err != nil || !fi.IsDir() {
			return
		}
		if containerPath(p) == "/" {
			return // the extraction point itself: extract skips it
		}
		x := &extraction{root: root, dest: inRoot(root, destHost)}
		at, err := x.place(p)
		if err != nil {
			return
		}
		if !within(root, at) {
			t.Fatalf("place(%q) below %q = %s, outside the root %s", p, dest, at, root)
		}
		if at == root {
			t.Fatalf("place(%q) below %q is the root itself", p, dest)
		}
	})
}

// FuzzExtract unpacks archives of fuzzed entries (names, link targets and
// types: directory, file, symbolic link, hard link) into a container root
// whose links point at a sentinel directory beside it, as PUT
// /containers/{id}/archive does: whatever the entries say and whether the
// extraction succeeds or not, nothing appears or changes outside the root.
func FuzzExtract(f *testing.F) {
	f.Add("a", "", byte(0), "b/c", "", byte(1), "d", "a", byte(2), []byte("x"))
	f.Add("../x", "", byte(1), "up/y", "", byte(1), "out/z", "", byte(1), []byte("escape"))
	f.Add("l", "../../..", byte(2), "l/x", "", byte(1), "h", "../out/secret", byte(3), []byte{})
	f.Add("dir", "", byte(0), "dir/up/new", "", byte(0), "dir/up/f", "", byte(1), []byte("y"))
	f.Add("s", "/", byte(2), "s/sentinel/f", "", byte(1), "hh", "out/secret", byte(3), []byte("z"))
	f.Add("out", "", byte(1), "up", "", byte(0), "up/../../sentinel/g", "", byte(1), []byte("w"))
	base := f.TempDir()
	f.Fuzz(func(t *testing.T, n1, l1 string, t1 byte, n2, l2 string, t2 byte, n3, l3 string, t3 byte, content []byte) {
		outer, err := os.MkdirTemp(base, "x")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(outer)
		sentinel, root := filepath.Join(outer, "sentinel"), filepath.Join(outer, "root")
		for _, d := range []string{sentinel, filepath.Join(root, "dir")} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(sentinel, "secret"), []byte("keep"), 0o600); err != nil {
			t.Fatal(err)
		}
		for link, target := range map[string]string{"out": sentinel, "up": "../sentinel", "dir/up": "../../sentinel"} {
			if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		types := []byte{tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink}
		for _, e := range []struct {
			name, link string
			typ        byte
		}{{n1, l1, t1}, {n2, l2, t2}, {n3, l3, t3}} {
			hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: types[int(e.typ)%len(types)], Mode: 0o644}
			if hdr.Typeflag == tar.TypeReg {
				hdr.Size = int64(len(content))
			}
			if tw.WriteHeader(hdr) != nil {
				return
			}
			if hdr.Typeflag == tar.TypeReg {
				tw.Write(content)
			}
		}
		if tw.Close() != nil {
			return
		}
		x := &extraction{root: root, dest: "/"}
		x.extract(&buf) // an error is fine; an escape is not

		entries, err := os.ReadDir(outer)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 {
			t.Fatalf("extraction made %v beside the root", entries)
		}
		inside, err := os.ReadDir(sentinel)
		if err != nil || len(inside) != 1 {
			t.Fatalf("the sentinel directory now holds %v (%v)", inside, err)
		}
		if b, err := os.ReadFile(filepath.Join(sentinel, "secret")); err != nil || string(b) != "keep" {
			t.Fatalf("the sentinel file now holds %q (%v)", b, err)
		}
		fi, err := os.Lstat(filepath.Join(sentinel, "secret"))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("the sentinel file's mode changed: %v (%v)", fi.Mode(), err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Nlink != 1 {
			t.Fatalf("the sentinel file was hard-linked into the root: %+v", fi.Sys())
		}
	})
}
