package network

import (
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

func openRegistry(t *testing.T) (*Registry, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "networks.json")
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r, path
}

// blockedOn is what the gateway of network ref must not forward to.
func blockedOn(t *testing.T, r *Registry, ref string) []netip.Prefix {
	t.Helper()
	r.mu.RLock()
	defer r.mu.RUnlock()
	st, err := r.findLocked(ref)
	if err != nil {
		t.Fatal(err)
	}
	return r.blockedFor(st)
}

func addNetwork(t *testing.T, r *Registry, id, name, subnet string) Network {
	t.Helper()
	n := Network{ID: id, Name: name, Driver: DriverBridge, Created: time.Now().UTC()}
	if subnet != "" {
		p := netip.MustParsePrefix(subnet)
		n.Subnet, n.Gateway = p, DefaultGateway(p)
	}
	n, err := r.Add(n)
	if err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
	return n
}

func TestRegistryFindsAsDockerd(t *testing.T) {
	r, _ := openRegistry(t)
	var names []string
	for _, n := range r.All() {
		names = append(names, n.Name)
	}
	if !slices.Equal(names, []string{NameBridge, NameHost, NameNone}) {
		t.Fatalf("predefined networks %v", names)
	}
	a := addNetwork(t, r, "zzz111", "front", "")
	addNetwork(t, r, "zzz222", "back", "")
	for _, ref := range []string{"zzz111", "front", "zzz1"} {
		if n, err := r.Find(ref); err != nil || n.ID != a.ID {
			t.Errorf("find %q: %v %v", ref, n.ID, err)
		}
	}
	// A name wins over an ID prefix.
	c := addNetwork(t, r, "yyy000", "zzz", "")
	if n, err := r.Find("zzz"); err != nil || n.ID != c.ID {
		t.Errorf("find by name shadowing a prefix: %v %v", n.ID, err)
	}
	_, err := r.Find("zz")
	if !errdefs.IsInvalidParameter(err) || err.Error() != "network zz is ambiguous" {
		t.Errorf("ambiguous: %v", err)
	}
	_, err = r.Find("nope")
	if !errdefs.IsNotFound(err) || err.Error() != "network nope not found" {
		t.Errorf("missing: %v", err)
	}
	if _, err := r.Find(""); !errdefs.IsNotFound(err) {
		t.Errorf("empty ref: %v", err)
	}
}

func TestRegistryAddPicksAndGuardsSubnets(t *testing.T) {
	r, path := openRegistry(t)
	n := addNetwork(t, r, "n1", "one", "")
	if n.Subnet.String() != "172.18.0.0/16" || n.Gateway.String() != "172.18.0.1" {
		t.Fatalf("first user network got %s via %s", n.Subnet, n.Gateway)
	}
	if got := blockedOn(t, r, NameBridge); !slices.Equal(got, []netip.Prefix{n.Subnet}) {
		t.Fatalf("the bridge's gateway blocks %v, want the other network's subnet %v", got, n.Subnet)
	}
	_, err := r.Add(Network{ID: "n2", Name: "one", Driver: DriverBridge})
	if !errdefs.IsConflict(err) || err.Error() != "network with name one already exists" {
		t.Fatalf("duplicate name: %v", err)
	}
	p := netip.MustParsePrefix("172.18.128.0/24")
	_, err = r.Add(Network{ID: "n3", Name: "three", Driver: DriverBridge, Subnet: p, Gateway: DefaultGateway(p)})
	if !errdefs.IsForbidden(err) || err.Error() != "Pool overlaps with other one on this address space" {
		t.Fatalf("overlap: %v", err)
	}
	// What was added is on disk; what was refused is not.
	again, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if got, err := again.Find("one"); err != nil || got.Subnet != n.Subnet {
		t.Fatalf("reopened: %v %v", got, err)
	}
	if _, err := again.Find("three"); !errdefs.IsNotFound(err) {
		t.Fatalf("refused network persisted: %v", err)
	}
}

func TestRegistryEndpointsAndDNS(t *testing.T) {
	r, _ := openRegistry(t)
	front := addNetwork(t, r, "front1", "front", "172.20.0.0/16")
	back := addNetwork(t, r, "back1", "back", "172.21.0.0/16")
	bridge, err := r.Find(NameBridge)
	if err != nil {
		t.Fatal(err)
	}

	web, webEP, err := r.Allocate(front.ID, "c-web", "", []string{"Web", "", "alias"})
	if err != nil || web.String() != "172.20.0.2" || len(webEP) != 64 {
		t.Fatalf("allocate web: %s %q %v", web, webEP, err)
	}
	db, _, err := r.Allocate(front.ID, "c-db", "172.20.0.9", []string{"db"})
	if err != nil || db.String() != "172.20.0.9" {
		t.Fatalf("allocate wanted address: %s %v", db, err)
	}
	if _, _, err := r.Allocate(front.ID, "c-web", "", nil); err == nil || err.Error() != "container c-web already has an endpoint on network front" {
		t.Fatalf("second endpoint: %v", err)
	}
	if _, _, err := r.Allocate(front.ID, "c-x", "172.20.0.9", nil); err == nil {
		t.Fatal("an address in use was given twice")
	}
	if _, _, err := r.Allocate("gone", "c-x", "", nil); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown network: %v", err)
	}
	// db is also on back, where a cache lives; web on the default bridge.
	dbBack, _, err := r.Allocate(back.ID, "c-db", "", []string{"db"})
	if err != nil {
		t.Fatal(err)
	}
	cache, _, err := r.Allocate(back.ID, "c-cache", "", []string{"cache"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Allocate(bridge.ID, "c-web", "", []string{"webbridge"}); err != nil {
		t.Fatal(err)
	}

	eps := r.Endpoints(front.ID)
	if len(eps) != 2 || eps["c-web"].Addr != web || eps["c-web"].EndpointID != webEP || !slices.Equal(eps["c-web"].Names, []string{"web", "alias"}) {
		t.Fatalf("endpoints of front: %+v", eps)
	}

	for _, tc := range []struct {
		net  string
		src  netip.Addr
		name string
		want []netip.Addr
	}{
		{front.ID, web, "web", []netip.Addr{web}},
		{front.ID, web, "alias", []netip.Addr{web}},
		{front.ID, web, "db", []netip.Addr{db}},
		// db asks on front for a name only on back, its other network.
		{front.ID, db, "cache", []netip.Addr{cache}},
		// web is not on back.
		{front.ID, web, "cache", nil},
		{back.ID, cache, "db", []netip.Addr{dbBack}},
		{front.ID, web, HostDockerInternal, []netip.Addr{front.Gateway}},
		// No names on the default bridge.
		{bridge.ID, web, "webbridge", nil},
		{"gone", web, "web", nil},
	} {
		got, ok := r.names(tc.net).Lookup(tc.src, tc.name)
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("resolve %s on %s from %s: %v %v, want %v", tc.name, tc.net, tc.src, got, ok, tc.want)
		}
	}

	r.Release("c-db")
	if _, ok := r.names(front.ID).Lookup(web, "db"); ok {
		t.Fatal("a released endpoint still resolves")
	}
	if _, ok := r.Endpoints(back.ID)["c-db"]; ok {
		t.Fatal("release kept an endpoint on another network")
	}
	// The freed address is the lowest free again.
	if a, _, err := r.Allocate(front.ID, "c-new", "", nil); err != nil || a.String() != "172.20.0.3" {
		t.Fatalf("after release: %s %v", a, err)
	}
}

func TestRegistryInternalNetworkHasNoHostAlias(t *testing.T) {
	r, _ := openRegistry(t)
	p := netip.MustParsePrefix("172.22.0.0/16")
	n, err := r.Add(Network{ID: "int1", Name: "internal", Driver: DriverBridge, Internal: true, Subnet: p, Gateway: DefaultGateway(p)})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := r.Allocate(n.ID, "c1", "", []string{"c1"})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := r.names(n.ID).Lookup(a, HostDockerInternal); ok {
		t.Fatalf("internal network resolves the host: %v", got)
	}
}

func TestRegistryRemoveAndSwitches(t *testing.T) {
	r, _ := openRegistry(t)
	n := addNetwork(t, r, "rm1", "busy", "")
	sw, got, err := r.SwitchFor(n.ID)
	if err != nil || sw == nil || got.ID != n.ID {
		t.Fatalf("switch: %v %v %v", sw, got, err)
	}
	if again, _, err := r.SwitchFor(n.ID); err != nil || again != sw {
		t.Fatalf("a second switch was started: %v", err)
	}
	if _, _, err := r.SwitchFor("gone"); !errdefs.IsNotFound(err) || err.Error() != "network gone not found" {
		t.Fatalf("switch of an unknown network: %v", err)
	}
	if _, _, err := r.Allocate(n.ID, "c1", "", nil); err != nil {
		t.Fatal(err)
	}
	err = r.Remove(n.ID)
	if !errdefs.IsForbidden(err) || err.Error() != "error while removing network: network busy has active endpoints" {
		t.Fatalf("remove in use: %v", err)
	}
	r.Release("c1")
	if err := r.Remove(n.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Find(n.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("removed network found: %v", err)
	}
	if got := blockedOn(t, r, NameBridge); len(got) != 0 {
		t.Fatalf("a removed network's subnet is still filtered: %v", got)
	}
	if err := r.Remove(n.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("second remove: %v", err)
	}
	// The subnet is free for the next network.
	if next := addNetwork(t, r, "rm2", "next", ""); next.Subnet != n.Subnet {
		t.Fatalf("subnet %s not reused (got %s)", n.Subnet, next.Subnet)
	}
}

func TestRegistryErrorTexts(t *testing.T) {
	n := Network{Name: "front"}
	err := ErrInUseBy(n, []string{`name:"a" id:"0123456789ab"`, `name:"b" id:"ba9876543210"`})
	if !errdefs.IsForbidden(err) || err.Error() != `error while removing network: network front has active endpoints (name:"a" id:"0123456789ab", name:"b" id:"ba9876543210")` {
		t.Errorf("in use by: %v", err)
	}
	if err := ErrPredefined("bridge"); !errdefs.IsForbidden(err) || !strings.HasPrefix(err.Error(), "bridge is a pre-defined network") {
		t.Errorf("predefined: %v", err)
	}
}
