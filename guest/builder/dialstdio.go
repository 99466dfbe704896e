package builder

import (
	"errors"
	"io"
	"net"
)

// DialStdio connects to the daemon's unix socket and copies in to it and
// it to out, like `buildctl dial-stdio`: the end of in half-closes the
// connection's write side, the connection's end closes out (when it can
// be closed). It returns once both directions are done.
func DialStdio(socket string, in io.Reader, out io.Writer) error {
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
	if err != nil {
		return err
	}
	// The daemon ended the connection: what the client still sends has no
	// reader. Wait for the client's end (its stdin's EOF), as buildctl
	// does, unless the write side already failed.
	if werr := <-toConn; werr != nil && !errors.Is(werr, net.ErrClosed) {
		return werr
	}
	return nil
}
