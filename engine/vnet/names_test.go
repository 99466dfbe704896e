package vnet

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

func TestNamesLookupOrder(t *testing.T) {
	a := netip.MustParseAddr
	web, db, other, gw := a("172.30.0.2"), a("172.30.0.3"), a("172.31.0.7"), a("172.30.0.1")
	names := &Names{
		Local:    map[string][]netip.Addr{"web": {web}, "db": {db}, "empty": {}},
		BySource: map[netip.Addr]map[string][]netip.Addr{db: {"cache": {other}, "web": {other}}},
		Fallback: map[string][]netip.Addr{"host.docker.internal": {gw}, "db": {gw}},
	}
	for _, c := range []struct {
		src  netip.Addr
		name string
		want []netip.Addr
	}{
		{web, "web", []netip.Addr{web}},
		{db, "web", []netip.Addr{web}}, // the network's own names win
		{db, "cache", []netip.Addr{other}},
		{web, "cache", nil}, // web is not on cache's network
		{web, "host.docker.internal", []netip.Addr{gw}},
		{web, "db", []netip.Addr{db}},
		{web, "empty", nil},
		{web, "example.org", nil},
	} {
		got, ok := names.Lookup(c.src, c.name)
		if ok != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("%s from %s: %v %v, want %v", c.name, c.src, got, ok, c.want)
		}
	}
	if _, ok := (*Names)(nil).Lookup(web, "web"); ok {
		t.Error("a nil table answered")
	}
	// The table travels as JSON (to a network's helper process).
	b, err := json.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	var back Names
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(&back, names) {
		t.Fatalf("JSON round trip: %s -> %+v, %v", b, back, err)
	}
}
