// Package network is the engine's Docker networks: what a network is
// (name, driver, subnet, labels), the predefined bridge, host and none, the
// store that persists them atomically under <root>/networks.json, address
// management (subnets for new networks, addresses and MACs for endpoints),
// and the Registry the engine works through: it finds networks as dockerd
// does (ID, name, unique ID prefix), creates and removes them, starts each
// network's virtual switch (engine/vnet) with its first container, holds the
// running containers' endpoints (addresses, DNS names) that the switches'
// DNS servers answer from, and gives the switches' isolation filter every
// network's subnet. Its errors are worded as dockerd's. The switches
// themselves are engine/vnet's, which knows nothing of this package.
package network

import (
	"net/netip"
	"time"
)

// Drivers, as Docker names them.
const (
	DriverBridge = "bridge"
	DriverHost   = "host"
	DriverNull   = "null"
)

// Names of the predefined networks.
const (
	NameBridge = "bridge"
	NameHost   = "host"
	NameNone   = "none"
)

// Network is one Docker network.
type Network struct {
	ID         string
	Name       string
	Driver     string
	Created    time.Time
	Internal   bool
	Attachable bool
	EnableIPv6 bool
	Labels     map[string]string
	Options    map[string]string
	// IPAMOptions are the create request's IPAM driver options.
	IPAMOptions map[string]string
	// Subnet and Gateway are unset for host and none.
	Subnet  netip.Prefix
	Gateway netip.Addr
}

// Predefined says whether n is one of bridge, host and none, which cannot
// be removed.
func (n Network) Predefined() bool {
	switch n.Name {
	case NameBridge, NameHost, NameNone:
		return true
	}
	return false
}

// Switched says whether containers on n get an interface on a virtual
// switch (bridge networks do; host and none do not).
func (n Network) Switched() bool { return n.Driver == DriverBridge }
