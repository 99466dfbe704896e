package vz

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestAgentBridge: successive connections each talk to the guest (here an
// echo), one after the other.
func TestAgentBridge(t *testing.T) {
	b, err := newAgentBridge()
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	go func() { _, _ = io.Copy(b.guest.GuestWrites, b.guest.GuestReads) }()
	path := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go b.serve(l)

	for i, msg := range []string{"hello\n", "again\n"} {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != msg {
			t.Fatalf("connection %d: got %q, %v", i, got, err)
		}
		c.Close()
	}
}
