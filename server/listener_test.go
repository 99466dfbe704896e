package server

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestParseAddr(t *testing.T) {
	cases := []struct {
		addr, proto, target string
		bad                 bool
	}{
		{addr: "unix:///tmp/p.sock", proto: "unix", target: "/tmp/p.sock"},
		{addr: "/tmp/p.sock", proto: "unix", target: "/tmp/p.sock"},
		{addr: "tcp://127.0.0.1:2375", proto: "tcp", target: "127.0.0.1:2375"},
		{addr: "unix://relative.sock", bad: true},
		{addr: "tcp://127.0.0.1", bad: true},
		{addr: "tcp://", bad: true},
		{addr: "ftp://x", bad: true},
	}
	for _, c := range cases {
		proto, target, err := ParseAddr(c.addr)
		if c.bad {
			if !errdefs.IsInvalidParameter(err) {
				t.Errorf("ParseAddr(%q) err = %v, want invalid parameter", c.addr, err)
			}
			continue
		}
		if err != nil || proto != c.proto || target != c.target {
			t.Errorf("ParseAddr(%q) = %q, %q, %v; want %q, %q", c.addr, proto, target, err, c.proto, c.target)
		}
	}
}

func TestListenUnixModeStaleAndLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "docker.sock")

	// A socket file left by a dead daemon (listened on, closed without
	// unlinking) is replaced.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket file missing: %v", err)
	}

	l, err := Listen("unix://"+path, nil)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != SocketMode {
		t.Errorf("socket mode %v, want %v", fi.Mode().Perm(), SocketMode)
	}

	// A live daemon on the socket is a conflict, and its socket survives.
	_, err = Listen("unix://"+path, nil)
	if !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "another daemon is already listening on "+path) {
		t.Fatalf("second Listen err = %v, want a conflict naming the socket", err)
	}
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("live socket was removed: %v", err)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("first listener no longer reachable: %v", err)
	}
	conn.Close()
}

func TestListenUnixRefusesARegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "docker.sock")
	if err := os.WriteFile(path, []byte("not a socket"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix://"+path, nil); !errdefs.IsConflict(err) {
		t.Fatalf("Listen on a regular file: err = %v, want conflict", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a socket" {
		t.Fatal("the regular file was touched")
	}
}
