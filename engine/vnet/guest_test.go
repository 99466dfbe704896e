//go:build linux

package vnet

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// fakeGuest is a second gVisor stack standing in for a VM: it is plugged
// into the switch through a datagram attachment (the vz kind) and has one
// address, a default route via the gateway.
func fakeGuest(t *testing.T, n *Network, ip netip.Addr) *stack.Stack {
	t.Helper()
	f, err := n.Attach(true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ep, err := fdbased.New(&fdbased.Options{FDs: []int{int(f.Fd())}, MTU: 1500, EthernetHeader: true,
		Address: tcpip.LinkAddress([]byte{0x02, 0x42, 0xac, 0x1e, 0x00, 0x02})})
	if err != nil {
		t.Fatal(err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	t.Cleanup(s.Close)
	if err := s.CreateNIC(1, ep); err != nil {
		t.Fatal(err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(ip.AsSlice()), PrefixLen: 16}}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	subnet, _ := tcpip.NewSubnet(addr(n.cfg.Subnet.Addr()), tcpip.MaskFromBytes(netMask(n.cfg.Subnet)))
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet, NIC: 1},
		{Destination: header0(), Gateway: tcpip.AddrFromSlice(n.cfg.Gateway.AsSlice()), NIC: 1},
	})
	return s
}

func header0() tcpip.Subnet {
	s, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes([]byte{0, 0, 0, 0}))
	return s
}

func TestGuestThroughTheSwitch(t *testing.T) {
	cfg := testConfig()
	guestAddr := netip.MustParseAddr("172.30.0.2")
	cfg.Resolve = func(_ netip.Addr, name string) ([]netip.Addr, bool) {
		if name == "web" {
			return []netip.Addr{guestAddr}, true
		}
		return nil, false
	}
	cfg.Upstream = "127.0.0.1:1" // nothing answers there
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	g := fakeGuest(t, n, guestAddr)
	full := func(port uint16) tcpip.FullAddress {
		return tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(guestAddr.AsSlice()), Port: port}
	}

	// A TCP server in the guest, reached through a published host port.
	ln, err := gonet.ListenTCP(g, full(80), ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "tcp-hello")
			c.Close()
		}
	}()
	pub, err := n.Publish("tcp", "127.0.0.1:0", netip.AddrPortFrom(guestAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	c, err := net.DialTimeout("tcp", pub.Host.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	if string(b) != "tcp-hello" {
		t.Fatalf("published TCP: %q", b)
	}

	// A UDP echo server in the guest, reached through a published port.
	uc, err := gonet.DialUDP(g, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(guestAddr.AsSlice()), Port: 81}, nil, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			k, from, err := uc.ReadFrom(buf)
			if err != nil {
				return
			}
			uc.WriteTo(append([]byte("echo:"), buf[:k]...), from)
		}
	}()
	upub, err := n.Publish("udp", "127.0.0.1:0", netip.AddrPortFrom(guestAddr, 81))
	if err != nil {
		t.Fatal(err)
	}
	defer upub.Close()
	hc, err := net.Dial("udp", upub.Host.String())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	hc.SetDeadline(time.Now().Add(10 * time.Second))
	hc.Write([]byte("ping"))
	buf := make([]byte, 100)
	k, err := hc.Read(buf)
	if err != nil || string(buf[:k]) != "echo:ping" {
		t.Fatalf("published UDP: %q, %v", buf[:k], err)
	}

	// The guest reaches a host server through the host alias (the
	// gateway), NATed to the host's loopback.
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		c, err := hl.Accept()
		if err == nil {
			io.WriteString(c, "host-hello")
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	gc, err := gonet.DialContextTCP(ctx, g, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(cfg.HostAlias.AsSlice()), Port: uint16(hl.Addr().(*net.TCPAddr).Port)}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest -> host alias: %v", err)
	}
	b, _ = io.ReadAll(gc)
	gc.Close()
	if string(b) != "host-hello" {
		t.Fatalf("guest -> host: %q", b)
	}

	// DNS on the gateway: a network name, and SERVFAIL for others when
	// the upstream does not answer.
	dc, err := gonet.DialUDP(g, nil, &tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(cfg.Gateway.AsSlice()), Port: 53}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ask := func(name string) *dns.Msg {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		co := &dns.Conn{Conn: dc}
		dc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := co.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		m, err := co.ReadMsg()
		if err != nil {
			t.Fatalf("dns %s: %v", name, err)
		}
		return m
	}
	if m := ask("web."); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != guestAddr.String() {
		t.Fatalf("web: %v", m)
	}
	if m := ask("example.org."); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("example.org without upstream: %v", m)
	}

	// Blocked destinations (other networks) are never forwarded.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	if c, err := gonet.DialContextTCP(ctx2, g, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFrom4([4]byte{172, 31, 0, 2}), Port: 80}, ipv4.ProtocolNumber); err == nil {
		c.Close()
		t.Fatal("reached a blocked network")
	}
}
