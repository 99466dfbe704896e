package vnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
)

// Publication is a host socket forwarded to an address inside the network.
type Publication struct {
	// Host is the bound host address (with the port the kernel picked when
	// 0 was asked for).
	Host  netip.AddrPort
	close func() error
	once  sync.Once
	err   error
}

// Close stops listening and ends the forwarding.
func (p *Publication) Close() error {
	p.once.Do(func() { p.err = p.close() })
	return p.err
}

// Publish binds host ("tcp" or "udp", "ip:port"; port 0 picks a free one)
// and forwards what arrives to target inside the network. The bind happens
// before Publish returns, so a port in use is reported here.
func (n *Network) Publish(proto, host string, target netip.AddrPort) (*Publication, error) {
	switch proto {
	case "tcp":
		return n.publishTCP(host, target)
	case "udp":
		return n.publishUDP(host, target)
	}
	return nil, fmt.Errorf("vnet: protocol %q cannot be published", proto)
}

func (n *Network) publishTCP(host string, target netip.AddrPort) (*Publication, error) {
	ln, err := net.Listen("tcp", host)
	if err != nil {
		return nil, err
	}
	bound := ln.Addr().(*net.TCPAddr).AddrPort()
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(n.ctx)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				time.Sleep(10 * time.Millisecond)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				n.forwardTCP(ctx, c, target)
			}()
		}
	}()
	return &Publication{Host: unmap(bound), close: func() error {
		err := ln.Close()
		cancel()
		return err
	}}, nil
}

// forwardTCP joins a host connection to a connection into the network.
func (n *Network) forwardTCP(ctx context.Context, c net.Conn, target netip.AddrPort) {
	defer c.Close()
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	in, err := gonet.DialContextTCP(dctx, n.stack, tcpip.FullAddress{NIC: nicID, Addr: addr(target.Addr()), Port: target.Port()}, ipv4.ProtocolNumber)
	cancel()
	if err != nil {
		return
	}
	defer in.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); in.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() { io.Copy(in, c); in.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, in); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

func (n *Network) publishUDP(host string, target netip.AddrPort) (*Publication, error) {
	pc, err := net.ListenPacket("udp", host)
	if err != nil {
		return nil, err
	}
	full := tcpip.FullAddress{NIC: nicID, Addr: addr(target.Addr()), Port: target.Port()}
	proxy, err := forwarder.NewUDPProxy(pc.(*net.UDPConn), func() (net.Conn, error) {
		return gonet.DialUDP(n.stack, nil, &full, ipv4.ProtocolNumber)
	})
	if err != nil {
		pc.Close()
		return nil, err
	}
	go proxy.Run()
	bound := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	return &Publication{Host: unmap(bound), close: proxy.Close}, nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
