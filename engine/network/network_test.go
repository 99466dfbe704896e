package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestNextSubnetFollowsDockerPools(t *testing.T) {
	used := []netip.Prefix{DefaultBridgeSubnet}
	var got []string
	for range 3 {
		p, err := NextSubnet(used)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.String())
		used = append(used, p)
	}
	want := []string{"172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("subnets %v, want %v", got, want)
		}
	}
	// Every /16 of 172.17-31 taken: 192.168.0.0/20 comes next; a user
	// subnet overlapping it is skipped.
	used = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/24")}
	if p, _ := NextSubnet(used); p.String() != "192.168.16.0/20" {
		t.Fatalf("after the 172 pools: %v", p)
	}
	used = []netip.Prefix{netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}
	if _, err := NextSubnet(used); err != ErrPoolExhausted {
		t.Fatalf("exhausted: %v", err)
	}
}

func TestParseSubnet(t *testing.T) {
	p, gw, err := ParseSubnet("10.5.0.0/24", "")
	if err != nil || p.String() != "10.5.0.0/24" || gw.String() != "10.5.0.1" {
		t.Fatalf("default gateway: %v %v %v", p, gw, err)
	}
	if _, gw, err = ParseSubnet("10.5.0.7/24", "10.5.0.254"); err != nil || gw.String() != "10.5.0.254" {
		t.Fatalf("given gateway: %v %v", gw, err)
	}
	for _, c := range [][2]string{{"nonsense", ""}, {"fd00::/64", ""}, {"10.5.0.0/31", ""}, {"10.5.0.0/24", "10.6.0.1"}, {"10.5.0.0/24", "10.5.0.255"}, {"10.5.0.0/24", "x"}} {
		if _, _, err := ParseSubnet(c[0], c[1]); err == nil {
			t.Errorf("ParseSubnet(%q, %q) accepted", c[0], c[1])
		}
	}
}

func TestAddresses(t *testing.T) {
	subnet := netip.MustParsePrefix("10.5.0.0/30") // .1 gateway, .2 the only host
	gw := DefaultGateway(subnet)
	a, err := NextAddress(subnet, gw, nil)
	if err != nil || a.String() != "10.5.0.2" {
		t.Fatalf("first address %v %v", a, err)
	}
	if _, err := NextAddress(subnet, gw, map[netip.Addr]bool{a: true}); err != ErrNoAddress {
		t.Fatalf("full subnet: %v", err)
	}
	if _, err := CheckAddress(subnet, gw, "10.5.0.2", map[netip.Addr]bool{a: true}); err == nil {
		t.Fatal("an address in use was accepted")
	}
	for _, bad := range []string{"10.5.0.1", "10.5.0.3", "10.5.0.0", "10.6.0.2", "x"} {
		if _, err := CheckAddress(subnet, gw, bad, nil); err == nil {
			t.Errorf("CheckAddress(%s) accepted", bad)
		}
	}
	if got := MACFor(netip.MustParseAddr("172.17.0.2")); got != "02:42:ac:11:00:02" {
		t.Fatalf("MACFor = %s", got)
	}
}

func TestStorePersistsAndKeepsPredefined(t *testing.T) {
	path := filepath.Join(t.TempDir(), "networks.json")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	all := s.All()
	if len(all) != 3 || all[0].Name != NameBridge || all[1].Name != NameHost || all[2].Name != NameNone {
		t.Fatalf("predefined: %+v", all)
	}
	n := Network{ID: "abc", Name: "n1", Driver: DriverBridge, Subnet: netip.MustParsePrefix("172.18.0.0/16"), Gateway: netip.MustParseAddr("172.18.0.1")}
	if err := s.Add(n); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	got := s2.All()
	if len(got) != 4 || got[3].Name != "n1" || got[3].Subnet != n.Subnet || got[0].ID != all[0].ID {
		t.Fatalf("reloaded: %+v", got)
	}
	if err := s2.Delete("abc"); err != nil {
		t.Fatal(err)
	}
	if s3, _ := OpenStore(path); len(s3.All()) != 3 {
		t.Fatal("delete not persisted")
	}
	os.WriteFile(path, []byte("{broken"), 0o600)
	if _, err := OpenStore(path); err == nil {
		t.Fatal("a corrupt store was accepted")
	}
}

func TestOpenStoreSweepsAnInterruptedWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "networks.json")
	if _, err := OpenStore(path); err != nil {
		t.Fatal(err)
	}
	// A daemon killed between atomicwriter's create and rename leaves this.
	stale := filepath.Join(dir, ".tmp-networks.json123456")
	if err := os.WriteFile(stale, []byte("[{"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.All()) != 3 {
		t.Fatalf("networks after reopening: %d, want the 3 predefined", len(s.All()))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("the interrupted write's temporary file is still there: %v", err)
	}
}
