package sockpath

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShortPathIsTheRealOne(t *testing.T) {
	dir := t.TempDir()
	p, err := For(dir, "ctl.sock")
	if err != nil || p != filepath.Join(dir, "ctl.sock") {
		t.Fatalf("got %q, %v", p, err)
	}
}

// A socket whose path is over macOS's limit is bound and dialed through a
// short link, which is reused and then removed.
func TestLongPathGoesThroughALink(t *testing.T) {
	base := filepath.Join(t.TempDir(), "short")
	old := shortBase
	defer func() { shortBase = old }()
	shortBase = func() string { return base }

	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 120))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	p, err := For(long, "x.sock")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > Max || !strings.HasPrefix(p, base+"/") {
		t.Fatalf("short path %q (%d bytes)", p, len(p))
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		t.Fatalf("bind through the link: %v", err)
	}
	defer l.Close()
	if _, err := os.Stat(filepath.Join(long, "x.sock")); err != nil {
		t.Fatalf("the socket is not in its directory: %v", err)
	}
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatalf("dial through the link: %v", err)
	}
	c.Close()
	if again, err := For(long, "x.sock"); err != nil || again != p {
		t.Fatalf("second call: %q, %v", again, err)
	}
	if fi, err := os.Stat(base); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("base dir: %v %v", fi, err)
	}
	RemoveLink(long)
	if _, err := os.Lstat(filepath.Dir(p)); !os.IsNotExist(err) {
		t.Fatalf("link not removed: %v", err)
	}
}

func TestShortLinkRefusesAnOpenBase(t *testing.T) {
	base := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(base, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o777)
	old := shortBase
	defer func() { shortBase = old }()
	shortBase = func() string { return base }
	if _, err := For("/"+strings.Repeat("x", 120), "a.sock"); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Fatalf("got %v", err)
	}
}
