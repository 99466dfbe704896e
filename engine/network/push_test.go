package network

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/pier-vm/pier/engine/vnet"
)

// pushedTo is what the registry last pushed to network id's in-process
// switch.
func pushedTo(t *testing.T, r *Registry, id string) (*vnet.Names, []netip.Prefix) {
	t.Helper()
	r.mu.RLock()
	sw, ok := r.byID[id].sw.(*localSwitch)
	r.mu.RUnlock()
	if !ok {
		t.Fatalf("network %s has no in-process switch", id)
	}
	return sw.names.Load(), *sw.blocked.Load()
}

// Every running switch is told the names and the other networks' subnets
// when a switch starts, endpoints come and go, and networks are added or
// removed.
func TestRegistryPushesNamesAndBlockedSubnets(t *testing.T) {
	r, _ := openRegistry(t)
	front := addNetwork(t, r, "front1", "front", "172.20.0.0/16")
	back := addNetwork(t, r, "back1", "back", "172.21.0.0/16")
	bridge, _ := r.Find(NameBridge)
	if _, _, err := r.SwitchFor(front.ID); err != nil {
		t.Fatal(err)
	}
	names, blocked := pushedTo(t, r, front.ID)
	if len(names.Local) != 0 || !slices.Equal(names.Fallback[HostDockerInternal], []netip.Addr{front.Gateway}) {
		t.Fatalf("names at start: %+v", names)
	}
	if !slices.Equal(blocked, []netip.Prefix{bridge.Subnet, back.Subnet}) {
		t.Fatalf("blocked at start: %v", blocked)
	}

	web, _, err := r.Allocate(front.ID, "c-web", "", []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	db, _, _ := r.Allocate(front.ID, "c-db", "", []string{"db"})
	dbBack, _, _ := r.Allocate(back.ID, "c-db", "", []string{"db", "store"})
	names, _ = pushedTo(t, r, front.ID)
	if !slices.Equal(names.Local["web"], []netip.Addr{web}) || !slices.Equal(names.Local["db"], []netip.Addr{db}) {
		t.Fatalf("front's names: %+v", names.Local)
	}
	// db may resolve back's names from front; web may not.
	if got, ok := names.Lookup(db, "store"); !ok || !slices.Equal(got, []netip.Addr{dbBack}) {
		t.Fatalf("db asks for store: %v %v (table %+v)", got, ok, names.BySource)
	}
	if _, ok := names.Lookup(web, "store"); ok {
		t.Fatal("web resolves a name of a network it is not on")
	}

	// back's switch starts with its names already known.
	if _, _, err := r.SwitchFor(back.ID); err != nil {
		t.Fatal(err)
	}
	if names, blocked := pushedTo(t, r, back.ID); !slices.Equal(names.Local["store"], []netip.Addr{dbBack}) || !slices.Equal(blocked, []netip.Prefix{bridge.Subnet, front.Subnet}) {
		t.Fatalf("back at start: %+v %v", names, blocked)
	}

	r.Release("c-db")
	if names, _ := pushedTo(t, r, front.ID); names.Local["db"] != nil || names.BySource != nil {
		t.Fatalf("a released endpoint is still pushed: %+v", names)
	}
	if names, _ := pushedTo(t, r, back.ID); names.Local != nil {
		t.Fatalf("back's names after release: %+v", names.Local)
	}

	// A container taken back after a restart (live restore) is pushed too.
	if err := r.Readopt(front.ID, "c-db", "ep-db", db, []string{"DB"}); err != nil {
		t.Fatal(err)
	}
	if names, _ := pushedTo(t, r, front.ID); !slices.Equal(names.Local["db"], []netip.Addr{db}) {
		t.Fatalf("a readopted endpoint is not pushed: %+v", names.Local)
	}
	r.Release("c-db")

	// Networks added and removed change every gateway's filter.
	extra := addNetwork(t, r, "extra1", "extra", "172.22.0.0/16")
	if _, blocked := pushedTo(t, r, front.ID); !slices.Contains(blocked, extra.Subnet) {
		t.Fatalf("front's filter misses a new network: %v", blocked)
	}
	if err := r.Remove(extra.ID); err != nil {
		t.Fatal(err)
	}
	if _, blocked := pushedTo(t, r, front.ID); slices.Contains(blocked, extra.Subnet) {
		t.Fatalf("front's filter keeps a removed network: %v", blocked)
	}
	// An internal network has no host alias.
	p := netip.MustParsePrefix("172.23.0.0/16")
	in, err := r.Add(Network{ID: "int1", Name: "internal", Driver: DriverBridge, Internal: true, Subnet: p, Gateway: DefaultGateway(p)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.SwitchFor(in.ID); err != nil {
		t.Fatal(err)
	}
	if names, _ := pushedTo(t, r, in.ID); names.Fallback != nil {
		t.Fatalf("internal network's fallback: %+v", names.Fallback)
	}
}
