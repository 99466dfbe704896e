package qemu

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDialLongSocketPath dials a socket whose absolute path is too long for
// sun_path (QEMU creates it by a path relative to the state directory).
func TestDialLongSocketPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/%s", f.Fd(), agentSocketName))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := os.Stat(filepath.Join(dir, agentSocketName)); err != nil {
		t.Fatalf("listener not in %s: %v", dir, err)
	}
	conn, err := dialUnixIn(context.Background(), dir, agentSocketName)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
