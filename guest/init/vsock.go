//go:build linux

package init

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/agent"
)

// listenVsock listens on the vsock port for connections from the host,
// retrying while the vsock transport is not there yet (its modules load
// just before), up to timeout.
func listenVsock(port uint32, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			err = unix.Bind(fd, &unix.SockaddrVM{CID: unix.VMADDR_CID_ANY, Port: port})
			if err == nil {
				err = unix.Listen(fd, 16)
			}
			if err == nil {
				return fd, nil
			}
			unix.Close(fd)
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("listen on vsock port %d: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vsockAcceptor accepts the host's connections on a listening vsock fd.
func vsockAcceptor(fd int) func() (io.ReadWriteCloser, error) {
	return func() (io.ReadWriteCloser, error) {
		nfd, _, err := unix.Accept4(fd, unix.SOCK_CLOEXEC)
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(nfd), "vsock"), nil
	}
}

// serveEach serves every accepted connection with serve, each in its own
// goroutine and so its own agent session, until accept fails for good. A
// transient accept error (EINTR, ECONNABORTED, a full fd table) is retried.
func serveEach(accept func() (io.ReadWriteCloser, error), serve func(io.ReadWriteCloser) error) error {
	failures := 0
	for {
		conn, err := accept()
		if err != nil {
			failures++
			if failures > 100 {
				return fmt.Errorf("accepting agent connections: %w", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		failures = 0
		go func() {
			err := serve(conn)
			conn.Close()
			logf("agent connection ended: %v", err)
		}()
	}
}

// serveVsock serves the agent on vsock (the vz driver's channel).
func serveVsock(a *agent.Agent, port uint32) error {
	fd, err := listenVsock(port, 10*time.Second)
	if err != nil {
		return err
	}
	return serveEach(vsockAcceptor(fd), a.Serve)
}
