//go:build linux

package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/guest/proto"
)

// forwardSockets listens at each forwarded socket's path in the container
// and carries every connection to the host over a stream of its own, on
// the session of the host that started or last reattached to the main
// process.
func (a *Agent) forwardSockets(sockets []proto.SocketSpec) error {
	for i, s := range sockets {
		path := filepath.Join(a.root, s.Target)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		_ = os.Remove(path) // a placeholder, or a stale socket from the image
		l, err := net.Listen("unix", path)
		if err != nil {
			return fmt.Errorf("forwarded socket %s: %w", s.Target, err)
		}
		if s.Mode != 0 {
			os.Chmod(path, os.FileMode(s.Mode).Perm())
		}
		go func(i int, l net.Listener) {
			for {
				conn, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					stream, err := a.hostSession().Open()
					if err != nil {
						conn.Close()
						return
					}
					if err := proto.WriteMessage(stream, proto.ForwardHeader{Socket: i}); err != nil {
						conn.Close()
						stream.Close()
						return
					}
					proto.Splice(conn, stream)
				}()
			}
		}(i, l)
	}
	return nil
}
