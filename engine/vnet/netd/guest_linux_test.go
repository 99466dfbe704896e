package netd

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
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

	"github.com/pier-vm/pier/engine/vnet"
)

// fakeGuest is a gVisor stack standing in for a VM, plugged into the
// helper's switch through the descriptor attach returned (a datagram
// pair, the vz kind): one address in cfg's subnet, a default route via
// the gateway.
func fakeGuest(t *testing.T, f *os.File, cfg Config, ip netip.Addr) *stack.Stack {
	t.Helper()
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
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFromSlice(ip.AsSlice()), PrefixLen: cfg.Subnet.Bits()}}, stack.AddressProperties{}); err != nil {
		t.Fatal(err)
	}
	subnet, _ := tcpip.NewSubnet(tcpip.AddrFromSlice(cfg.Subnet.Masked().Addr().AsSlice()), tcpip.MaskFromBytes(net.CIDRMask(cfg.Subnet.Bits(), 32)))
	any, _ := tcpip.NewSubnet(tcpip.AddrFrom4([4]byte{}), tcpip.MaskFromBytes([]byte{0, 0, 0, 0}))
	s.SetRouteTable([]tcpip.Route{
		{Destination: subnet, NIC: 1},
		{Destination: any, Gateway: tcpip.AddrFromSlice(cfg.Gateway.AsSlice()), NIC: 1},
	})
	return s
}

// A guest on a helper's switch is reached through a port the helper
// publishes, resolves the names pushed to the helper, reaches the host
// through the gateway, and cannot reach a blocked subnet.
func TestGuestThroughAHelper(t *testing.T) {
	cfg := testConfig()
	dir := t.TempDir()
	c := startHelper(t, dir, cfg)
	guestAddr := netip.MustParseAddr("172.30.0.2")
	if err := c.SetDNS(&vnet.Names{Local: map[string][]netip.Addr{"web": {guestAddr}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetBlocked([]netip.Prefix{netip.MustParsePrefix("172.31.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	f, err := c.Attach(true)
	if err != nil {
		t.Fatal(err)
	}
	g := fakeGuest(t, f, cfg, guestAddr)

	ln, err := gonet.ListenTCP(g, tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(guestAddr.AsSlice()), Port: 80}, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
	host, err := c.Publish("c1", "tcp", "127.0.0.1:0", netip.AddrPortFrom(guestAddr, 80))
	if err != nil {
		t.Fatal(err)
	}
	readFrom := func(addr string) string {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		b, _ := io.ReadAll(conn)
		return string(b)
	}
	if got := readFrom(host.String()); got != "tcp-hello" {
		t.Fatalf("published TCP: %q", got)
	}

	// The guest reaches a host server through the host alias.
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	go func() {
		if c, err := hl.Accept(); err == nil {
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
	b, _ := io.ReadAll(gc)
	gc.Close()
	if string(b) != "host-hello" {
		t.Fatalf("guest -> host: %q", b)
	}

	// DNS on the gateway answers from the pushed table, and follows a new
	// one.
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
	other := netip.MustParseAddr("172.31.0.9")
	if err := c.SetDNS(&vnet.Names{BySource: map[netip.Addr]map[string][]netip.Addr{guestAddr: {"db": {other}}}}); err != nil {
		t.Fatal(err)
	}
	if m := ask("db."); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != other.String() {
		t.Fatalf("db by source: %v", m)
	}
	if m := ask("web."); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("web after the table changed: %v", m)
	}

	// A blocked subnet is never forwarded to: a server on one of this
	// host's own addresses is reached until the pushed list blocks it.
	hostIP := hostAddress(t)
	hl2, err := net.Listen("tcp", netip.AddrPortFrom(hostIP, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer hl2.Close()
	go func() {
		if c, err := hl2.Accept(); err == nil {
			io.WriteString(c, "host-again")
			c.Close()
		}
	}()
	hostFull := tcpip.FullAddress{NIC: 1, Addr: tcpip.AddrFromSlice(hostIP.AsSlice()), Port: uint16(hl2.Addr().(*net.TCPAddr).Port)}
	gc, err = gonet.DialContextTCP(ctx, g, hostFull, ipv4.ProtocolNumber)
	if err != nil {
		t.Fatalf("guest -> %s before it is blocked: %v", hostIP, err)
	}
	b, _ = io.ReadAll(gc)
	gc.Close()
	if string(b) != "host-again" {
		t.Fatalf("guest -> %s: %q", hostIP, b)
	}
	if err := c.SetBlocked([]netip.Prefix{netip.PrefixFrom(hostIP, 32)}); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if c, err := gonet.DialContextTCP(ctx2, g, hostFull, ipv4.ProtocolNumber); err == nil {
		c.Close()
		t.Fatal("reached a blocked subnet")
	}

	// The switch keeps serving with no client at all (pierd gone).
	c.Close()
	if got := readFrom(host.String()); got != "tcp-hello" {
		t.Fatalf("published TCP without a client: %q", got)
	}
}

// hostAddress is a non-loopback IPv4 address of this host outside the
// test network.
func hostAddress(t *testing.T) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			if ip := p.Addr(); ip.Is4() && !ip.IsLoopback() && !testConfig().Subnet.Contains(ip) {
				return ip
			}
		}
	}
	t.Fatalf("this host has no IPv4 address but loopback: %v", addrs)
	return netip.Addr{}
}
