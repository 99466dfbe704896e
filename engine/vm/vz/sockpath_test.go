package vz

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSocketPathShort(t *testing.T) {
	dir := t.TempDir()
	p, err := socketPath(dir, "ctl.sock")
	if err != nil || p != filepath.Join(dir, "ctl.sock") {
		t.Fatalf("got %q, %v", p, err)
	}
}

// TestSocketPathLong: a socket whose path is over macOS's limit is reached
// through a short link, which is reused and then removed.
func TestSocketPathLong(t *testing.T) {
	base := filepath.Join(t.TempDir(), "short")
	old := shortBase
	defer func() { shortBase = old }()
	shortBase = func() string { return base }

	dir := t.TempDir()
	// Linux takes up to 107 bytes, macOS 103: make the real path 105.
	long := filepath.Join(dir, strings.Repeat("d", 105-len(dir)-len("/x.sock")-1))
	if err := os.Mkdir(long, 0o700); err != nil {
		t.Fatal(err)
	}
	real := filepath.Join(long, "x.sock")
	if len(real) <= maxSocketPath || len(real) > 107 {
		t.Fatalf("test path is %d bytes", len(real))
	}
	l, err := net.Listen("unix", real)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	p, err := socketPath(long, "x.sock")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) > maxSocketPath || !strings.HasPrefix(p, base+"/") {
		t.Fatalf("short path %q (%d bytes)", p, len(p))
	}
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatalf("dial through the link: %v", err)
	}
	c.Close()
	if again, err := socketPath(long, "x.sock"); err != nil || again != p {
		t.Fatalf("second call: %q, %v", again, err)
	}
	if fi, err := os.Stat(base); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("base dir: %v %v", fi, err)
	}
	removeShortLink(long)
	if _, err := os.Lstat(filepath.Dir(p)); !os.IsNotExist(err) {
		t.Fatalf("link not removed: %v", err)
	}
}

func TestShortLinkRefusesOpenBase(t *testing.T) {
	base := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(base, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o777)
	old := shortBase
	defer func() { shortBase = old }()
	shortBase = func() string { return base }
	if _, err := socketPath("/"+strings.Repeat("x", 120), "a.sock"); err == nil || !strings.Contains(err.Error(), "open to other users") {
		t.Fatalf("got %v", err)
	}
}
