package engine

import (
	"net/netip"
)

// HostGateways puts the gateway addresses of the networks on the host
// (engine/hostgw on Linux), so that a client on the host that dials a
// network's gateway, as testcontainers-go does inside a CI job container,
// reaches the published ports. It is called with every switched network's
// gateway whenever the set changes; an error is logged, never fatal.
type HostGateways func(gateways []netip.Addr) error

// syncHostGateways hands the current gateways to the HostGateways hook.
func (s *Containers) syncHostGateways() {
	if s.hostGateways == nil {
		return
	}
	s.hostGwMu.Lock()
	defer s.hostGwMu.Unlock()
	var gws []netip.Addr
	for _, n := range s.nets.All() {
		if n.Switched() && n.Gateway.IsValid() {
			gws = append(gws, n.Gateway)
		}
	}
	if err := s.hostGateways(gws); err != nil {
		s.log.Warn("network gateways are not on the host: clients that dial them (testcontainers-go when /.dockerenv exists) will not reach published ports", "err", err)
	}
}
