//go:build !linux

package hostgw

import (
	"errors"
	"net"
	"net/netip"
)

// Sync cannot put addresses on a host interface outside Linux: clients on
// such hosts reach published ports on localhost (docs/networking.md).
func Sync(want []netip.Addr) error {
	if len(want) == 0 {
		return nil
	}
	return errors.New("host gateways: only on Linux")
}

// Local says whether a is one of the host's own addresses.
func Local(a netip.Addr) (bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false, err
	}
	for _, x := range addrs {
		if n, ok := x.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP.To4()); ok && ip == a {
				return true, nil
			}
		}
	}
	return false, nil
}
