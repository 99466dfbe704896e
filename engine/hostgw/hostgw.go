// Package hostgw gives the host the gateway addresses of pier's networks,
// as dockerd's docker0 carries 172.17.0.1. pier's networks are user-space
// switches, so their gateways exist only inside them; a client on the host
// that dials a gateway (testcontainers-go does, for the `bridge` network,
// whenever /.dockerenv exists) would find no route. With each gateway as a
// /32 on a host interface of pier's own, such a dial is a local connection
// and reaches the published-port listeners, which bind the host's wildcard
// address. The interface carries no traffic of its own: it only holds the
// addresses.
package hostgw

import (
	"net/netip"
	"slices"
)

// InterfaceName is the host interface pier puts the gateways on.
const InterfaceName = "pier0"

// Plan says which addresses Sync adds to pier's interface and which it
// removes from it. want are the gateways the networks have now, onLink
// the addresses the interface carries, elsewhere the host's other local
// addresses: a gateway the host already has (a dockerd's docker0, say)
// needs nothing, an address the interface carries that no network wants
// any more goes. Only IPv4 addresses are planned (pier's networks are
// IPv4); both lists come back sorted.
func Plan(want, onLink, elsewhere []netip.Addr) (add, del []netip.Addr) {
	for _, a := range want {
		if !a.Is4() || slices.Contains(onLink, a) || slices.Contains(elsewhere, a) || slices.Contains(add, a) {
			continue
		}
		add = append(add, a)
	}
	for _, a := range onLink {
		if !slices.Contains(want, a) || slices.Contains(elsewhere, a) {
			del = append(del, a)
		}
	}
	slices.SortFunc(add, netip.Addr.Compare)
	slices.SortFunc(del, netip.Addr.Compare)
	return add, del
}
