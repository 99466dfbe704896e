package vz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// The agent channel under vz is vsock (VZVirtioSocketDevice), not a
// virtio console port: the daemon's first bytes (yamux, the hello) could
// reach a console port before the guest opened it, and Linux drops what
// arrives on a port nobody opened; QEMU's virtserialport holds them back,
// Virtualization.framework's file-handle attachment is not documented to.
// A vsock connect succeeds only once pier-init listens (its ready point),
// and every connection is a session of its own in the guest, so a second
// connection (a restarted daemon, the shim's own shutdown request) never
// lands in a stale session.

// Timeouts of the agent bridge.
const (
	// agentConnectTimeout bounds how long one client connection on
	// agent.sock waits for the guest's agent to listen (a boot).
	agentConnectTimeout = 2 * time.Minute
	// connectAttemptTimeout bounds one vsock connect: Apple documents that
	// a connect to a port nobody listens on "does nothing", so a
	// completion that never comes must not hold the retry loop.
	connectAttemptTimeout = 2 * time.Second
	// connectRetryDelay is the pause between connect attempts.
	connectRetryDelay = 20 * time.Millisecond
)

// guestDialer connects to a vsock port of the guest; it fails (or does
// not return) while nothing listens there.
type guestDialer interface {
	DialGuest(port uint32) (net.Conn, error)
	Done() <-chan struct{}
}

// connectAgent connects to the guest agent's vsock port, retrying until
// the agent listens, the VM ends or ctx ends. Each attempt is bounded by
// connectAttemptTimeout; a connection an abandoned attempt makes later is
// closed.
func connectAgent(ctx context.Context, g guestDialer) (net.Conn, error) {
	var last error
	for {
		type result struct {
			conn net.Conn
			err  error
		}
		ch := make(chan result, 1)
		go func() {
			c, err := g.DialGuest(proto.AgentVsockPort)
			ch <- result{c, err}
		}()
		t := time.NewTimer(connectAttemptTimeout)
		select {
		case r := <-ch:
			t.Stop()
			if r.err == nil {
				return r.conn, nil
			}
			last = r.err
		case <-t.C:
			last = errors.New("vsock connect did not complete")
			go func() {
				if r := <-ch; r.conn != nil {
					r.conn.Close()
				}
			}()
		case <-ctx.Done():
			t.Stop()
			go func() {
				if r := <-ch; r.conn != nil {
					r.conn.Close()
				}
			}()
			return nil, fmt.Errorf("guest agent on vsock port %d: %w (last: %v)", proto.AgentVsockPort, ctx.Err(), last)
		}
		select {
		case <-g.Done():
			return nil, fmt.Errorf("guest agent on vsock port %d: the vm ended (last: %v)", proto.AgentVsockPort, last)
		case <-ctx.Done():
			return nil, fmt.Errorf("guest agent on vsock port %d: %w (last: %v)", proto.AgentVsockPort, ctx.Err(), last)
		case <-time.After(connectRetryDelay):
		}
	}
}

// agentBridge joins each client connection on agent.sock to a vsock
// connection of its own to the guest's agent.
type agentBridge struct {
	guest guestDialer

	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func newAgentBridge(g guestDialer) *agentBridge {
	return &agentBridge{guest: g, conns: map[net.Conn]struct{}{}}
}

// serve bridges the connections accepted on l, each on its own, until l
// is closed.
func (b *agentBridge) serve(l net.Listener) {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go b.bridge(conn)
	}
}

// bridge connects client to the guest's agent (waiting for it to listen)
// and copies both ways; when either side ends, both are closed.
func (b *agentBridge) bridge(client net.Conn) {
	if !b.track(client) {
		client.Close()
		return
	}
	defer b.untrack(client)
	ctx, cancel := context.WithTimeout(context.Background(), agentConnectTimeout)
	guest, err := connectAgent(ctx, b.guest)
	cancel()
	if err != nil {
		return
	}
	if !b.track(guest) {
		guest.Close()
		return
	}
	defer b.untrack(guest)
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(guest, client)
	go pipe(client, guest)
	<-done
}

// track registers c so close can end it; false once the bridge is closed.
func (b *agentBridge) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns == nil {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *agentBridge) untrack(c net.Conn) {
	c.Close()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns != nil {
		delete(b.conns, c)
	}
}

// close ends every bridged connection.
func (b *agentBridge) close() {
	b.mu.Lock()
	conns := b.conns
	b.conns = nil
	b.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}
