package vz

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
)

// guestPort holds the hypervisor's ends of the agent channel: the guest
// reads what the shim writes into GuestReads and writes into GuestWrites
// what the shim reads.
type guestPort struct {
	GuestReads  *os.File
	GuestWrites *os.File
}

// agentBridge joins the guest's agent port to one client connection at a
// time on agent.sock. Bytes the guest sends while no client is connected
// are dropped, as a virtio-serial port without a host end would drop them.
type agentBridge struct {
	toGuest   io.WriteCloser
	fromGuest io.ReadCloser
	guest     guestPort

	mu  sync.Mutex
	cur net.Conn
}

// newAgentBridge makes the two pipes of the agent channel.
func newAgentBridge() (*agentBridge, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	return &agentBridge{toGuest: inW, fromGuest: outR, guest: guestPort{GuestReads: inR, GuestWrites: outW}}, nil
}

// serve bridges the connections accepted on l, one after the other, until l
// is closed. It also pumps the guest's output until the guest's end closes.
func (b *agentBridge) serve(l net.Listener) {
	go b.pumpFromGuest()
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.cur = conn
		b.mu.Unlock()
		_, _ = io.Copy(b.toGuest, conn)
		b.mu.Lock()
		b.cur = nil
		b.mu.Unlock()
		conn.Close()
	}
}

func (b *agentBridge) pumpFromGuest() {
	buf := make([]byte, 64<<10)
	for {
		n, err := b.fromGuest.Read(buf)
		if n > 0 {
			b.mu.Lock()
			if b.cur != nil {
				if _, werr := b.cur.Write(buf[:n]); werr != nil {
					// The client is gone; serve's copy ends on the close.
					b.cur.Close()
				}
			}
			b.mu.Unlock()
		}
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				b.mu.Lock()
				if b.cur != nil {
					b.cur.Close()
				}
				b.mu.Unlock()
			}
			return
		}
	}
}

// close releases all four pipe ends.
func (b *agentBridge) close() {
	b.toGuest.Close()
	b.fromGuest.Close()
	b.guest.GuestReads.Close()
	b.guest.GuestWrites.Close()
}
