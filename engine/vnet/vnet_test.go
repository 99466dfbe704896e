package vnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/miekg/dns"
	"gvisor.dev/gvisor/pkg/tcpip"
)

func testConfig() Config {
	return Config{
		Subnet:    netip.MustParsePrefix("172.30.0.0/16"),
		Gateway:   netip.MustParseAddr("172.30.0.1"),
		HostAlias: netip.MustParseAddr("172.30.0.1"),
		Blocked:   func(a netip.Addr) bool { return netip.MustParsePrefix("172.31.0.0/16").Contains(a) },
	}
}

func TestForwardable(t *testing.T) {
	cfg := testConfig()
	internal := cfg
	internal.Internal = true
	cases := []struct {
		name string
		cfg  Config
		dst  string
		want bool
	}{
		{"internet", cfg, "192.0.2.7", true},
		{"host alias", cfg, "172.30.0.1", true},
		{"own subnet (other guests go through the switch)", cfg, "172.30.0.9", false},
		{"another network", cfg, "172.31.0.2", false},
		{"internal: internet", internal, "192.0.2.7", false},
		{"internal: host alias", internal, "172.30.0.1", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := netip.MustParseAddr(c.dst)
			if got := forwardable(c.cfg, tcpip.AddrFromSlice(a.AsSlice())); got != c.want {
				t.Fatalf("forwardable(%s) = %v, want %v", c.dst, got, c.want)
			}
		})
	}
}

func TestNetMask(t *testing.T) {
	for bits, want := range map[int]string{16: "ffff0000", 20: "fffff000", 24: "ffffff00", 30: "fffffffc", 8: "ff000000"} {
		p := netip.PrefixFrom(netip.MustParseAddr("10.0.0.0"), bits)
		if got := net.IPMask(netMask(p)).String(); got != want {
			t.Errorf("netMask(/%d) = %s, want %s", bits, got, want)
		}
	}
}

func TestHostNameserver(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "resolv.conf")
	os.WriteFile(p, []byte("# comment\nsearch example\nnameserver 10.1.2.3\nnameserver 10.9.9.9\n"), 0o644)
	if got := hostNameserver(p); got != "10.1.2.3:53" {
		t.Fatalf("hostNameserver = %q", got)
	}
	if got := hostNameserver(filepath.Join(dir, "missing")); got != "" {
		t.Fatalf("missing file: %q", got)
	}
}

func TestAnswerLocal(t *testing.T) {
	cfg := testConfig()
	web := netip.MustParseAddr("172.30.0.5")
	cfg.Resolve = func(src netip.Addr, name string) ([]netip.Addr, bool) {
		if name == "web" {
			return []netip.Addr{web}, true
		}
		return nil, false
	}
	h := &dnsHandler{cfg: cfg}
	q := new(dns.Msg)
	q.SetQuestion("WEB.", dns.TypeA)
	m := h.answerLocal(q, netip.Addr{})
	if m == nil || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "172.30.0.5" {
		t.Fatalf("A web: %v", m)
	}
	q.SetQuestion("web.", dns.TypeAAAA)
	if m := h.answerLocal(q, netip.Addr{}); m == nil || len(m.Answer) != 0 || m.Rcode != dns.RcodeSuccess {
		t.Fatalf("AAAA web: want an empty success, got %v", m)
	}
	q.SetQuestion("example.org.", dns.TypeA)
	if m := h.answerLocal(q, netip.Addr{}); m != nil {
		t.Fatalf("example.org must go upstream, got %v", m)
	}
}

func TestRelayWithoutUpstreamFails(t *testing.T) {
	cfg := testConfig()
	cfg.Upstream = ""
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if m := (&dnsHandler{cfg: cfg}).relay(q, false); m.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %d, want SERVFAIL", m.Rcode)
	}
}

// A network starts, attaches interfaces of both kinds, publishes a port
// (a second bind of the same port fails with EADDRINUSE), and closes.
func TestNetworkLifecycle(t *testing.T) {
	n, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, dgram := range []bool{false, true} {
		f, err := n.Attach(dgram)
		if err != nil {
			t.Fatalf("attach(datagram=%v): %v", dgram, err)
		}
		typ, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, syscall.SO_TYPE)
		want := syscall.SOCK_STREAM
		if dgram {
			want = syscall.SOCK_DGRAM
		}
		if err != nil || typ != want {
			t.Fatalf("socket type %d (%v), want %d", typ, err, want)
		}
		f.Close()
	}
	target := netip.MustParseAddrPort("172.30.0.2:80")
	pub, err := n.Publish("tcp", "127.0.0.1:0", target)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Host.Port() == 0 || pub.Host.Addr().String() != "127.0.0.1" {
		t.Fatalf("bound %v", pub.Host)
	}
	_, err = n.Publish("tcp", "127.0.0.1:"+strconv.Itoa(int(pub.Host.Port())), target)
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second bind: %v, want EADDRINUSE", err)
	}
	if _, err := n.Publish("sctp", "127.0.0.1:0", target); err == nil {
		t.Fatal("sctp accepted")
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	// Released: the same port binds again.
	again, err := n.Publish("tcp", "127.0.0.1:"+strconv.Itoa(int(pub.Host.Port())), target)
	if err != nil {
		t.Fatalf("rebind after close: %v", err)
	}
	again.Close()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Attach(false); err == nil {
		t.Fatal("attach after close succeeded")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	bad := testConfig()
	bad.Gateway = netip.MustParseAddr("10.0.0.1")
	if _, err := New(bad); err == nil {
		t.Fatal("gateway outside the subnet accepted")
	}
	bad = testConfig()
	bad.Subnet = netip.MustParsePrefix("fd00::/64")
	if _, err := New(bad); err == nil {
		t.Fatal("IPv6 subnet accepted")
	}
}

// Both ends of a datagram pair are sized: the VM's end is what the vz
// shim hands to Virtualization.framework, and macOS's defaults there
// (2 KiB send, 4 KiB receive) would not hold one 65520-byte frame. A
// stream pair (QEMU) keeps the kernel's defaults. Linux clamps a size to
// net.core.[rw]mem_max and reports twice what was set.
func TestAttachSizesTheVMsEndOfADatagramPair(t *testing.T) {
	n, err := New(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	f, err := n.Attach(true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		opt    int
		want   int
		sysctl string
	}{
		{syscall.SO_SNDBUF, DatagramSendBuffer, "/proc/sys/net/core/wmem_max"},
		{syscall.SO_RCVBUF, DatagramReceiveBuffer, "/proc/sys/net/core/rmem_max"},
	} {
		want := c.want
		if b, err := os.ReadFile(c.sysctl); err == nil {
			if max, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && max < want {
				want = max
			}
		}
		got, err := syscall.GetsockoptInt(int(f.Fd()), syscall.SOL_SOCKET, c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if got < want {
			t.Errorf("VM's end: socket option %d is %d bytes, want at least %d", c.opt, got, want)
		}
		if got < 65520 {
			t.Errorf("VM's end: socket option %d is %d bytes, less than one 65520-byte frame", c.opt, got)
		}
	}
	// A frame of the full MTU goes through the VM's end.
	if _, err := f.Write(make([]byte, 65520)); err != nil {
		t.Fatalf("write a 65520-byte frame: %v", err)
	}
}

// SizeDatagramBuffers fails on what is not a socket, with the option named.
func TestSizeDatagramBuffersNamesTheOption(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := SizeDatagramBuffers(int(f.Fd())); err == nil || !strings.Contains(err.Error(), "SO_SNDBUF") {
		t.Fatalf("got %v", err)
	}
}
