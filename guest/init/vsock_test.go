//go:build linux

package init

import (
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/guest/agent"
	"github.com/pier-vm/pier/guest/proto"
)

// serveEach gives every connection a session of its own: two host
// connections open at once (the daemon's and the vz shim's own, for a
// shutdown) each complete the agent's handshake, and a connection that
// goes away ends only its own session. A unix socket stands in for vsock.
func TestServeEachGivesEveryConnectionItsOwnSession(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	a := agent.New(agent.NewReaper(), agent.Hooks{}, "test-kernel")
	go serveEach(func() (io.ReadWriteCloser, error) { return l.Accept() }, a.Serve)

	session := func(c net.Conn) *yamux.Session {
		s, err := yamux.Client(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	hello := func(s *yamux.Session) error {
		st, err := s.Open()
		if err != nil {
			return err
		}
		defer st.Close()
		st.SetDeadline(time.Now().Add(5 * time.Second))
		if err := proto.WriteMessage(st, proto.Request{Op: proto.OpHello, Version: proto.Version}); err != nil {
			return err
		}
		var resp proto.Response
		if err := proto.ReadMessage(st, &resp); err != nil {
			return err
		}
		if resp.Hello == nil || resp.Hello.Version != proto.Version || resp.Hello.KernelRelease != "test-kernel" {
			t.Errorf("hello: %+v", resp.Hello)
		}
		return nil
	}
	first, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	firstS := session(first)
	if err := hello(firstS); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := hello(session(second)); err != nil {
		t.Fatalf("second connection, the first still open: %v", err)
	}
	second.Close()
	// The first session is unaffected by the second's end.
	if err := hello(firstS); err != nil {
		t.Fatalf("first connection after the second closed: %v", err)
	}
	third, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if err := hello(session(third)); err != nil {
		t.Fatalf("third connection: %v", err)
	}
}

// A listener that keeps failing ends serveEach with the error instead of
// spinning forever.
func TestServeEachGivesUpOnAListenerThatKeepsFailing(t *testing.T) {
	calls := 0
	err := serveEach(func() (io.ReadWriteCloser, error) { calls++; return nil, io.ErrClosedPipe }, nil)
	if err == nil || calls <= 100 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}
