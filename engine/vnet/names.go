package vnet

import "net/netip"

// Names is a resolution table a network's DNS server can answer from
// (its Lookup is a Resolver), for a datapath whose owner pushes the names
// instead of being asked for each query (engine/vnet/netd). Names are
// lower case; a name with no address counts as absent.
type Names struct {
	// Local are the names of the network's own members.
	Local map[string][]netip.Addr `json:"local,omitempty"`
	// BySource are, for an asking address, the names it may resolve
	// besides Local (those of its other networks).
	BySource map[netip.Addr]map[string][]netip.Addr `json:"bySource,omitempty"`
	// Fallback are the names answered when neither Local nor BySource has
	// them (the host's alias).
	Fallback map[string][]netip.Addr `json:"fallback,omitempty"`
}

// Lookup answers name asked from src: Local first, then the asker's
// BySource, then Fallback.
func (t *Names) Lookup(src netip.Addr, name string) ([]netip.Addr, bool) {
	if t == nil {
		return nil, false
	}
	if addrs := t.Local[name]; len(addrs) > 0 {
		return addrs, true
	}
	if addrs := t.BySource[src][name]; len(addrs) > 0 {
		return addrs, true
	}
	if addrs := t.Fallback[name]; len(addrs) > 0 {
		return addrs, true
	}
	return nil, false
}
