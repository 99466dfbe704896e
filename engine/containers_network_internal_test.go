package engine

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/network"
)

func TestHostsLines(t *testing.T) {
	n := network.Network{Name: "n1", Subnet: netip.MustParsePrefix("172.18.0.0/16"), Gateway: netip.MustParseAddr("172.18.0.1")}
	c := container.Container{
		Config:     container.Config{Hostname: "web", Domainname: "example.org"},
		HostConfig: container.HostConfig{ExtraHosts: []string{"db:10.0.0.5", "hostbox:host-gateway", "bad-entry"}},
	}
	got := hostsLines(c, netip.MustParseAddr("172.18.0.2"), n)
	want := []string{"10.0.0.5\tdb", "172.18.0.1\thostbox", "172.18.0.1\thost.docker.internal", "172.18.0.2\tweb.example.org web"}
	if !slices.Equal(got, want) {
		t.Fatalf("hosts lines\n got %q\nwant %q", got, want)
	}
	// An explicit host.docker.internal wins; internal networks have no
	// way to the host.
	c.HostConfig.ExtraHosts = []string{"host.docker.internal:10.9.9.9"}
	c.Config.Domainname = ""
	if got := hostsLines(c, netip.MustParseAddr("172.18.0.2"), n); strings.Count(strings.Join(got, "\n"), "host.docker.internal") != 1 || got[0] != "10.9.9.9\thost.docker.internal" {
		t.Fatalf("explicit alias: %q", got)
	}
	n.Internal = true
	c.HostConfig.ExtraHosts = nil
	if got := hostsLines(c, netip.MustParseAddr("172.18.0.2"), n); !slices.Equal(got, []string{"172.18.0.2\tweb"}) {
		t.Fatalf("internal: %q", got)
	}
	// --network none: nothing but what the user added.
	if got := hostsLines(c, netip.Addr{}, network.Network{}); len(got) != 0 {
		t.Fatalf("none: %q", got)
	}
}

func TestSplitPortKey(t *testing.T) {
	for key, want := range map[string]string{"80/tcp": "80 tcp", "53/UDP": "53 udp", "8080": "8080 tcp"} {
		p, proto, err := splitPortKey(key)
		if got := strconv.Itoa(int(p)) + " " + proto; err != nil || got != want {
			t.Errorf("%s: %q %v", key, got, err)
		}
	}
	for _, bad := range []string{"0/tcp", "x/tcp", "70000/tcp", ""} {
		if _, _, err := splitPortKey(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPublishOneRangesAndClash(t *testing.T) {
	nets, err := network.Open(filepath.Join(t.TempDir(), "networks.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer nets.Close()
	bridge, err := nets.Find(network.NameBridge)
	if err != nil {
		t.Fatal(err)
	}
	sw, _, err := nets.SwitchFor(bridge.ID)
	if err != nil {
		t.Fatal(err)
	}
	target := netip.AddrPortFrom(bridge.Gateway.Next(), 80)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	// A single busy port: Docker's words.
	_, err = publishOne(sw, "c1", "tcp", container.PortBinding{HostIP: "127.0.0.1", HostPort: strconv.Itoa(port)}, target)
	if err == nil || !strings.Contains(err.Error(), "Bind for 127.0.0.1:"+strconv.Itoa(port)+" failed: port is already allocated") {
		t.Fatalf("clash: %v", err)
	}
	// A range starting at the busy port takes the next free one.
	bound, err := publishOne(sw, "c1", "tcp", container.PortBinding{HostIP: "127.0.0.1", HostPort: strconv.Itoa(port) + "-" + strconv.Itoa(port+20)}, target)
	if err != nil {
		t.Fatalf("range: %v", err)
	}
	if got := int(bound.Port()); got <= port || got > port+20 {
		t.Fatalf("range picked %d", got)
	}
	for _, bad := range []string{"x", "10-5", "70000", "1-x"} {
		if _, err := publishOne(sw, "c1", "tcp", container.PortBinding{HostPort: bad}, target); err == nil {
			t.Errorf("host port %q accepted", bad)
		}
	}
	// The switch holds the port for its owner until released.
	if pubs, err := sw.Publications("c1"); err != nil || len(pubs) != 1 || pubs[0].Host != bound || pubs[0].Target != target {
		t.Fatalf("publications of c1: %+v, %v", pubs, err)
	}
	if err := sw.Release("c1"); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", bound.String())
	if err != nil {
		t.Fatalf("released port still bound: %v", err)
	}
	l.Close()
}
