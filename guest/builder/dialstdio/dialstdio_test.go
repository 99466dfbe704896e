package dialstdio

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestDialStdioHalfCloses: the client's end of stdin reaches the daemon as
// EOF while the daemon's answer still flows back; DialStdio returns nil
// once both directions are done.
func TestDialStdioHalfCloses(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's half-close
		_, _ = c.Write(append([]byte("echo:"), b...))
	}()

	inR, inW := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- Run(sock, inR, &out) }()
	payload := bytes.Repeat([]byte("x"), 1<<20)
	if _, err := inW.Write(payload); err != nil {
		t.Fatal(err)
	}
	inW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("DialStdio: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DialStdio did not return after both directions ended")
	}
	if !bytes.Equal(out.Bytes(), append([]byte("echo:"), payload...)) {
		t.Fatalf("got %d bytes back, want %d", out.Len(), len(payload)+5)
	}
}

func TestDialStdioNoDaemon(t *testing.T) {
	if err := Run(filepath.Join(t.TempDir(), "none.sock"), bytes.NewReader(nil), io.Discard); err == nil {
		t.Fatal("want an error without a daemon")
	}
}
