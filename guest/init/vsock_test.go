//go:build linux

package init

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

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

	dial := func(c net.Conn) (*proto.Client, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		client, err := proto.Dial(ctx, c)
		if err != nil {
			return nil, err
		}
		if client.Info.Version != proto.Version || client.Info.KernelRelease != "test-kernel" {
			t.Errorf("hello: %+v", client.Info)
		}
		return client, nil
	}
	ping := func(client *proto.Client) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return client.Ping(ctx)
	}
	first, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	firstC, err := dial(first)
	if err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial(second); err != nil {
		t.Fatalf("second connection, the first still open: %v", err)
	}
	second.Close()
	// The first session is unaffected by the second's end.
	if err := ping(firstC); err != nil {
		t.Fatalf("first connection after the second closed: %v", err)
	}
	third, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := dial(third); err != nil {
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
