package vz

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// ping runs the agent handshake and a ping over conn.
func ping(t *testing.T, conn net.Conn) *proto.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := proto.Dial(ctx, conn)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	return c
}

// TestAgentBridgeWaitsForTheAgent: a client that connects before the
// guest's agent listens is held until it does; nothing it sent first is
// lost (the handshake completes). A second client, the first still open,
// gets a session of its own, and the first keeps working after the
// second left.
func TestAgentBridgeWaitsForTheAgent(t *testing.T) {
	v := newFakeVM("agent-late")
	b := newAgentBridge(v)
	defer b.close()
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go b.serve(l)

	first, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	c1 := ping(t, first)
	if v.dials.Load() < 2 {
		t.Errorf("the bridge connected at once (%d dials); the agent listened only 300 ms later", v.dials.Load())
	}
	second, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c2 := ping(t, second)
	c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c1.Ping(ctx); err != nil {
		t.Fatalf("first session after the second left: %v", err)
	}
}

// connectAgent gives up when the VM ends or ctx ends, saying why.
func TestConnectAgentGivesUp(t *testing.T) {
	v := newFakeVM("no-agent")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := connectAgent(ctx, v); err == nil || ctx.Err() == nil {
		t.Fatalf("got %v before the deadline", err)
	}
	v.end(nil)
	if _, err := connectAgent(context.Background(), v); err == nil {
		t.Fatal("connected to a stopped vm")
	}
}
