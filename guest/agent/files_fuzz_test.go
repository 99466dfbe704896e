//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"strings"
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
