package proto

import (
	"io"
	"net"
	"sync"
)

// ServeForwarded accepts the streams the guest opens for forwarded sockets
// and joins each to the connection dial returns for its socket index,
// until the session ends.
func (c *Client) ServeForwarded(dial func(socket int) (net.Conn, error)) {
	for {
		stream, err := c.session.Accept()
		if err != nil {
			return
		}
		go func() {
			var h ForwardHeader
			if err := ReadMessage(stream, &h); err != nil {
				stream.Close()
				return
			}
			conn, err := dial(h.Socket)
			if err != nil {
				stream.Close()
				return
			}
			Splice(stream, conn)
		}()
	}
}

// Splice copies both ways between a and b, passing half-closes on, and
// closes both once both directions are done.
func Splice(a, b net.Conn) {
	var wg sync.WaitGroup
	wg.Add(2)
	half := func(dst, src net.Conn) {
		defer wg.Done()
		io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		} else {
			dst.Close()
		}
	}
	go half(a, b)
	go half(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}
