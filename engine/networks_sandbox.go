package engine

import (
	"net/netip"

	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/engine/vnet"
)

// BridgeNetwork puts a sandbox that is not a container (the image
// builder's VM) on the default bridge network, as dockerd's BuildKit runs
// RUN steps with the bridge's NAT: an address of its own, the gateway as
// its DNS server and route to the outside, host.docker.internal. release
// gives the address back once the sandbox is gone.
func (s *Containers) BridgeNetwork(owner string) (cfg *NetworkConfig, release func(), err error) {
	bridge, err := s.nets.Find(network.NameBridge)
	if err != nil {
		return nil, nil, err
	}
	sw, n, err := s.nets.SwitchFor(bridge.ID)
	if err != nil {
		return nil, nil, err
	}
	addr, _, err := s.nets.Allocate(n.ID, owner, "", nil)
	if err != nil {
		return nil, nil, err
	}
	cfg = &NetworkConfig{
		Interfaces: []NetworkInterface{{
			MAC:     network.MACFor(addr),
			Address: netip.PrefixFrom(addr, n.Subnet.Bits()),
			MTU:     vnet.DefaultMTU,
			Attach:  sw.Attach,
		}},
		Gateway:     n.Gateway,
		Nameservers: []string{n.Gateway.String()},
		Hosts:       []string{n.Gateway.String() + "\t" + network.HostDockerInternal},
	}
	return cfg, func() { s.nets.Release(owner) }, nil
}
