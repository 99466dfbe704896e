package netd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/internal/sockpath"
)

// callTimeout bounds one control request.
const callTimeout = 10 * time.Second

// Client talks to the helper serving one directory. Each call is a
// connection of its own, so calls are safe for concurrent use and a
// client outlives a broken connection.
type Client struct {
	dir  string
	sock string
	pid  int
	cfg  Config
}

// Connect connects to the helper serving dir and checks that it speaks
// this protocol. When none runs it removes the stale socket and pid file
// and returns an error that is ErrNotRunning.
func Connect(ctx context.Context, dir string) (*Client, error) {
	sock, err := sockpath.For(dir, controlSock)
	if err != nil {
		return nil, err
	}
	c := &Client{dir: dir, sock: sock}
	resp, _, err := c.callContext(ctx, request{Op: opPing})
	if err != nil {
		if helperAlive(dir) {
			return nil, fmt.Errorf("netd: the helper in %s does not answer: %w", dir, err)
		}
		_ = os.Remove(filepath.Join(dir, controlSock))
		_ = os.Remove(filepath.Join(dir, pidFile))
		sockpath.RemoveLink(dir)
		return nil, fmt.Errorf("%w in %s", ErrNotRunning, dir)
	}
	if resp.Protocol != Protocol || resp.Config == nil || resp.Pid <= 0 {
		return nil, fmt.Errorf("netd: the helper in %s speaks %q, want %q", dir, resp.Protocol, Protocol)
	}
	c.pid, c.cfg = resp.Pid, *resp.Config
	return c, nil
}

// Dir is the helper's directory.
func (c *Client) Dir() string { return c.dir }

// Pid is the helper's process ID.
func (c *Client) Pid() int { return c.pid }

// Config is the network the helper serves.
func (c *Client) Config() Config { return c.cfg }

// Ping checks that the helper answers.
func (c *Client) Ping() error {
	_, _, err := c.call(request{Op: opPing})
	return err
}

// Attach connects one VM network interface (see vnet.Network.Attach): it
// returns the VM's end of a new socket pair whose other end the helper's
// switch serves.
func (c *Client) Attach(datagram bool) (*os.File, error) {
	_, f, err := c.call(request{Op: opAttach, Datagram: datagram})
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, errors.New("netd: attach answered without a descriptor")
	}
	return f, nil
}

// Publish binds host ("tcp" or "udp", "ip:port"; port 0 picks a free one)
// in the helper and forwards it to target; the helper keeps it for owner
// until Release. It returns the address bound. A port in use is an error
// that is syscall.EADDRINUSE.
func (c *Client) Publish(owner, proto, host string, target netip.AddrPort) (netip.AddrPort, error) {
	resp, _, err := c.call(request{Op: opPublish, Owner: owner, Proto: proto, Host: host, Target: target})
	if err != nil {
		return netip.AddrPort{}, err
	}
	return resp.Host, nil
}

// Publications lists owner's publications (every owner's for "").
func (c *Client) Publications(owner string) ([]Publication, error) {
	resp, _, err := c.call(request{Op: opPublications, Owner: owner})
	return resp.Publications, err
}

// Release closes owner's publications.
func (c *Client) Release(owner string) error {
	_, _, err := c.call(request{Op: opRelease, Owner: owner})
	return err
}

// SetDNS replaces the names the helper's DNS server answers.
func (c *Client) SetDNS(names *vnet.Names) error {
	if names == nil {
		names = &vnet.Names{}
	}
	_, _, err := c.call(request{Op: opDNS, Names: names})
	return err
}

// SetBlocked replaces the subnets the helper's gateway does not forward
// to.
func (c *Client) SetBlocked(prefixes []netip.Prefix) error {
	_, _, err := c.call(request{Op: opBlocked, Prefixes: prefixes})
	return err
}

// stopTimeout bounds Stop's wait for a helper to end by itself.
const stopTimeout = 5 * time.Second

// Stop asks the helper to stop and waits until it has released its
// directory; when ctx ends first (or after stopTimeout), the helper is
// killed.
func (c *Client) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if _, _, err := c.callContext(ctx, request{Op: opStop}); err != nil && !helperAlive(c.dir) {
		return nil // it was gone already
	}
	if waitGone(ctx, c.dir) {
		return nil
	}
	if c.pid > 0 {
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if !waitGone(wctx, c.dir) {
		return fmt.Errorf("netd: the helper in %s (pid %d) does not stop", c.dir, c.pid)
	}
	return nil
}

// Close releases the client; the helper keeps running.
func (c *Client) Close() error { return nil }

// waitGone waits until no helper holds dir's lock.
func waitGone(ctx context.Context, dir string) bool {
	for {
		if !helperAlive(dir) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (c *Client) call(req request) (response, *os.File, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return c.callContext(ctx, req)
}

// callContext sends req on a connection of its own and reads the answer;
// a helper's error comes back as an error.
func (c *Client) callContext(ctx context.Context, req request) (response, *os.File, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		return response{}, nil, fmt.Errorf("netd: %s: %w", c.dir, err)
	}
	defer conn.Close()
	uc := conn.(*net.UnixConn)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(callTimeout)
	}
	_ = uc.SetDeadline(deadline)
	b, err := json.Marshal(req)
	if err != nil {
		return response{}, nil, err
	}
	if _, err := uc.Write(append(b, '\n')); err != nil {
		return response{}, nil, fmt.Errorf("netd: %s: %w", c.dir, err)
	}
	resp, f, err := readResponse(uc)
	if err != nil {
		return response{}, nil, fmt.Errorf("netd: %s: %s: %w", c.dir, req.Op, err)
	}
	if resp.Error != "" {
		if f != nil {
			f.Close()
		}
		return resp, nil, &remoteError{msg: resp.Error, errno: syscall.Errno(resp.Errno)}
	}
	return resp, f, nil
}
