// Package dialstdio joins a process's stdin and stdout to a unix socket,
// like `buildctl dial-stdio`: pierd reaches the builder VM's BuildKit API
// through it (an exec per connection). It is small on purpose: the
// command that runs it (pier-dial-stdio) starts in milliseconds, where
// BuildKit's own binary spends most of a second in its packages' init
// under TCG.
package dialstdio

import (
	"errors"
	"io"
	"net"
	"syscall"
)

// DefaultSocket is where the builder daemon serves BuildKit's API.
const DefaultSocket = "/run/pier-buildkit/buildkitd.sock"

// Run connects to the daemon's unix socket and copies in to it and it to
// out, like `buildctl dial-stdio`: the end of in half-closes the
// connection's write side, the connection's end closes out (when it can
// be closed). It returns once both directions are done; a client that
// hung up (out's reader gone) is a normal end.
func Run(socket string, in io.Reader, out io.Writer) error {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return err
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)

	toConn := make(chan error, 1)
	go func() {
		_, err := io.Copy(uc, in)
		if cerr := uc.CloseWrite(); err == nil {
			err = cerr
		}
		toConn <- err
	}()
	_, err = io.Copy(out, uc)
	if c, ok := out.(io.Closer); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && !hungUp(err) {
		return err
	}
	// The daemon ended the connection (or the client stopped reading):
	// wait for the client's end of its stdin, as buildctl does.
	if err := <-toConn; err != nil && !hungUp(err) {
		return err
	}
	return nil
}

// hungUp tells the errors of a peer that went away.
func hungUp(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed)
}
