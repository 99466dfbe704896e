package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// SocketMode is the permission of the unix sockets pier creates.
const SocketMode os.FileMode = 0o660

// SocketGroup owns the unix sockets pier creates, when the group exists.
const SocketGroup = "docker"

// Listen opens a listener for one daemon address: "unix:///path/to.sock"
// (or a bare absolute path) or "tcp://host:port". A tcp listener serves
// TLS with tlsConfig when it is not nil; a unix socket never does (as
// dockerd's).
func Listen(addr string, tlsConfig *tls.Config) (net.Listener, error) {
	proto, target, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	if proto == "tcp" {
		l, err := net.Listen("tcp", target)
		if err != nil || tlsConfig == nil {
			return l, err
		}
		return tls.NewListener(l, tlsConfig), nil
	}
	return listenUnix(target)
}

// ParseAddr splits a daemon address into protocol ("unix" or "tcp") and
// target (socket path or host:port).
func ParseAddr(addr string) (proto, target string, err error) {
	switch {
	case strings.HasPrefix(addr, "unix://"):
		proto, target = "unix", strings.TrimPrefix(addr, "unix://")
	case strings.HasPrefix(addr, "tcp://"):
		proto, target = "tcp", strings.TrimPrefix(addr, "tcp://")
	case strings.HasPrefix(addr, "/"):
		proto, target = "unix", addr
	default:
		return "", "", errdefs.InvalidParameterf("invalid daemon address %q: want unix:///path or tcp://host:port", addr)
	}
	if target == "" {
		return "", "", errdefs.InvalidParameterf("invalid daemon address %q: empty target", addr)
	}
	if proto == "unix" && !filepath.IsAbs(target) {
		return "", "", errdefs.InvalidParameterf("invalid daemon address %q: socket path must be absolute", addr)
	}
	if proto == "tcp" {
		if _, _, err := net.SplitHostPort(target); err != nil {
			return "", "", errdefs.InvalidParameterf("invalid daemon address %q: %v", addr, err)
		}
	}
	return proto, target, nil
}

// listenUnix listens on a unix socket at path: a stale socket file left by a
// dead daemon is replaced, a live daemon is an error. The socket is made
// SocketMode and given to SocketGroup when that group exists.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// Create the socket without group-other bits, so nobody can connect in
	// the moment before the chmod (listeners are opened at startup, before
	// anything else runs, so changing the process umask is safe here).
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Chmod(path, SocketMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("chmod %s: %w", path, err)
	}
	if g, err := user.LookupGroup(SocketGroup); err == nil {
		if gid, err := strconv.Atoi(g.Gid); err == nil {
			// Best effort, as dockerd: a non-root daemon may not chown.
			_ = os.Chown(path, -1, gid)
		}
	}
	return l, nil
}

func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return errdefs.Conflictf("%s exists and is not a socket; remove it or choose another --host", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return errdefs.Conflictf("another daemon is already listening on %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
