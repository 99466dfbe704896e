package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// DefaultBridgeSubnet is the predefined bridge network's subnet, as Docker's.
var DefaultBridgeSubnet = netip.MustParsePrefix("172.17.0.0/16")

// subnetPool lists the subnets new networks get, in Docker's default order:
// 172.18.0.0/16 ... 172.31.0.0/16, then 192.168.0.0/20 ... 192.168.240.0/20.
func subnetPool() []netip.Prefix {
	var out []netip.Prefix
	for b := 18; b <= 31; b++ {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(b), 0, 0}), 16))
	}
	for c := 0; c < 256; c += 16 {
		out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(c), 0}), 20))
	}
	return out
}

// ErrPoolExhausted is returned when no default subnet is free.
var ErrPoolExhausted = errors.New("all predefined address pools have been fully subnetted")

// NextSubnet is the first pool subnet that overlaps none of used.
func NextSubnet(used []netip.Prefix) (netip.Prefix, error) {
	for _, p := range subnetPool() {
		if !overlapsAny(p, used) {
			return p, nil
		}
	}
	return netip.Prefix{}, ErrPoolExhausted
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if u.IsValid() && p.Overlaps(u) {
			return true
		}
	}
	return false
}

// Overlaps says whether p overlaps one of used.
func Overlaps(p netip.Prefix, used []netip.Prefix) bool { return overlapsAny(p, used) }

// DefaultGateway is the first address of subnet (172.18.0.1 for
// 172.18.0.0/16), Docker's choice.
func DefaultGateway(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// ParseSubnet checks a user-given IPv4 subnet and gateway. An empty gateway
// means the default; the gateway must lie in the subnet and not be its
// network or broadcast address.
func ParseSubnet(subnet, gateway string) (netip.Prefix, netip.Addr, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("invalid subnet %s : invalid CIDR address: %s", subnet, subnet)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("subnet %s: only IPv4 subnets are supported", subnet)
	}
	if p.Bits() > 30 {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("subnet %s is too small: at most /30", subnet)
	}
	p = p.Masked()
	gw := DefaultGateway(p)
	if gateway != "" {
		if gw, err = netip.ParseAddr(gateway); err != nil || !gw.Is4() {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("invalid gateway address %s", gateway)
		}
		if !p.Contains(gw) || gw == p.Addr() || gw == broadcast(p) {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("no matching subnet for gateway %s", gateway)
		}
	}
	return p, gw, nil
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// ErrNoAddress is returned when a subnet has no free address left.
var ErrNoAddress = errors.New("no available IPv4 addresses on this network's address pools")

// NextAddress is the lowest address of subnet that is not the network or
// broadcast address, the gateway, or in use.
func NextAddress(subnet netip.Prefix, gateway netip.Addr, inUse map[netip.Addr]bool) (netip.Addr, error) {
	bc := broadcast(subnet)
	for a := subnet.Masked().Addr().Next(); subnet.Contains(a) && a != bc; a = a.Next() {
		if a != gateway && !inUse[a] {
			return a, nil
		}
	}
	return netip.Addr{}, ErrNoAddress
}

// CheckAddress validates a requested endpoint address on subnet.
func CheckAddress(subnet netip.Prefix, gateway netip.Addr, want string, inUse map[netip.Addr]bool) (netip.Addr, error) {
	a, err := netip.ParseAddr(want)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("invalid IPv4 address: %s", want)
	}
	if !subnet.Contains(a) || a == subnet.Masked().Addr() || a == broadcast(subnet) {
		return netip.Addr{}, fmt.Errorf("no configured subnet or ip-range contain the IP address %s", want)
	}
	if a == gateway || inUse[a] {
		return netip.Addr{}, fmt.Errorf("Address already in use")
	}
	return a, nil
}

// MACFor is Docker's MAC address for an endpoint address: 02:42 followed
// by the four bytes of the IPv4 address.
func MACFor(a netip.Addr) string {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}.String()
}
