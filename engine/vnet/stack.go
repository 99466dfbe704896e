package vnet

import (
	"errors"
	"net/netip"
	"sync"

	"github.com/containers/gvisor-tap-vsock/pkg/services/forwarder"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// nicID is the gateway's only interface.
const nicID = 1

// hostLoopback is where HostAlias leads.
var hostLoopback = netip.MustParseAddr("127.0.0.1")

// newStack builds the gateway: a gVisor stack on the switch's link endpoint
// holding the gateway address, in promiscuous and spoofing mode so that it
// terminates every flow leaving the subnet and hands it to the NAT
// forwarders, which open the matching socket on the host.
func newStack(cfg Config, ep stack.LinkEndpoint) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	if err := s.CreateNIC(nicID, ep); err != nil {
		return nil, errors.New(err.String())
	}
	if err := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: addr(cfg.Gateway).WithPrefix(),
	}, stack.AddressProperties{}); err != nil {
		return nil, errors.New(err.String())
	}
	s.SetSpoofing(nicID, true)
	s.SetPromiscuousMode(nicID, true)
	subnet, err := tcpip.NewSubnet(addr(cfg.Subnet.Addr()), tcpip.MaskFromBytes(netMask(cfg.Subnet)))
	if err != nil {
		return nil, err
	}
	s.SetRouteTable([]tcpip.Route{{Destination: subnet, NIC: nicID}})

	nat := map[tcpip.Address]tcpip.Address{}
	if cfg.HostAlias.IsValid() {
		nat[addr(cfg.HostAlias)] = addr(hostLoopback)
	}
	var natLock sync.Mutex
	tcpFwd := forwarder.TCP(s, nat, &natLock, false)
	udpFwd := forwarder.UDP(s, nat, &natLock, false)
	allowed := func(id stack.TransportEndpointID) bool { return forwardable(cfg, id.LocalAddress) }
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		if !allowed(id) {
			return true // dropped: the guest's connect times out or is refused
		}
		return tcpFwd.HandlePacket(id, pkt)
	})
	s.SetTransportProtocolHandler(udp.ProtocolNumber, func(id stack.TransportEndpointID, pkt *stack.PacketBuffer) bool {
		if !allowed(id) {
			return true
		}
		return udpFwd.HandlePacket(id, pkt)
	})
	return s, nil
}

// forwardable says whether the gateway may open a host socket towards dst
// for a guest: never on an internal network, never into a blocked range
// (another virtual network), never to the subnet itself (other guests are
// reached through the switch), always to the host alias.
func forwardable(cfg Config, dst tcpip.Address) bool {
	a, ok := netip.AddrFromSlice(dst.AsSlice())
	if !ok {
		return false
	}
	a = a.Unmap()
	if cfg.HostAlias.IsValid() && a == cfg.HostAlias {
		return !cfg.Internal
	}
	if cfg.Internal || cfg.Subnet.Contains(a) {
		return false
	}
	if cfg.Blocked != nil && cfg.Blocked(a) {
		return false
	}
	return true
}

func addr(a netip.Addr) tcpip.Address { return tcpip.AddrFromSlice(a.AsSlice()) }

func netMask(p netip.Prefix) []byte {
	bits := p.Bits()
	m := make([]byte, 4)
	for i := range m {
		switch {
		case bits >= 8:
			m[i] = 0xff
			bits -= 8
		case bits > 0:
			m[i] = byte(0xff << (8 - bits))
			bits = 0
		}
	}
	return m
}
