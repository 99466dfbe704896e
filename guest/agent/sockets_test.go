//go:build linux

package agent

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// A forwarded socket: the agent listens at the target, every connection
// there becomes a stream to the host, which the host joins to its own
// unix socket (as pierd does for -v /var/run/docker.sock:...).
func TestForwardedSocket(t *testing.T) {
	dir := t.TempDir()
	hostSock := filepath.Join(dir, "host.sock")
	l, err := net.Listen("unix", hostSock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				b, _ := io.ReadAll(c) // until the guest side half-closes
				c.Write(append([]byte("echo:"), b...))
				c.Close()
			}()
		}
	}()
	c := dialAgent(t, Hooks{})
	go c.ServeForwarded(func(i int) (net.Conn, error) { return net.Dial("unix", hostSock) })
	target := filepath.Join(dir, "run", "docker.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := c.StartContainer(ctx, proto.ContainerSpec{
		Process: proto.ProcessSpec{Args: []string{"sleep", "5"}},
		Sockets: []proto.SocketSpec{{Target: target, Mode: 0o660}},
	}, proto.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Signal(9)
	for range 2 { // two connections, one after the other
		conn, err := net.Dial("unix", target)
		if err != nil {
			t.Fatalf("dial the forwarded socket: %v", err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("ping"))
		conn.(*net.UnixConn).CloseWrite()
		b, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || string(b) != "echo:ping" {
			t.Fatalf("through the forwarded socket: %q %v", b, err)
		}
	}
}
