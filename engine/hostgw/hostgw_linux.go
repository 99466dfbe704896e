package hostgw

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Sync makes the host's interface InterfaceName carry exactly the gateways
// in want that the host does not already have, creating it (a persistent
// TUN device, which every Linux kernel with CONFIG_TUN offers, unlike the
// dummy link type) when missing. It needs CAP_NET_ADMIN; the error then
// says so and nothing changes.
func Sync(want []netip.Addr) error {
	link, err := netlink.LinkByName(InterfaceName)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return fmt.Errorf("host gateways: %w", err)
		}
		if len(want) == 0 {
			return nil
		}
		if err := createInterface(); err != nil {
			return err
		}
		if link, err = netlink.LinkByName(InterfaceName); err != nil {
			return fmt.Errorf("host gateways: %w", err)
		}
	}
	onLink, elsewhere, err := localAddrs(link.Attrs().Index)
	if err != nil {
		return err
	}
	add, del := Plan(want, onLink, elsewhere)
	for _, a := range del {
		if err := netlink.AddrDel(link, hostAddr(a)); err != nil {
			return fmt.Errorf("host gateways: removing %s from %s: %w", a, InterfaceName, err)
		}
	}
	for _, a := range add {
		if err := netlink.AddrAdd(link, hostAddr(a)); err != nil {
			return fmt.Errorf("host gateways: adding %s to %s: %w", a, InterfaceName, err)
		}
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(link); err != nil {
			return fmt.Errorf("host gateways: bringing %s up: %w", InterfaceName, err)
		}
	}
	return nil
}

// createInterface creates InterfaceName: a persistent TUN device, or, where
// /dev/net/tun is missing, a dummy link (which some kernels lack).
func createInterface() error {
	attrs := netlink.LinkAttrs{Name: InterfaceName}
	tunErr := netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: attrs, Mode: netlink.TUNTAP_MODE_TUN, Flags: netlink.TUNTAP_NO_PI})
	if tunErr == nil {
		return nil
	}
	if err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs}); err != nil {
		return fmt.Errorf("host gateways: creating %s: as a TUN device: %v; as a dummy link: %w", InterfaceName, tunErr, err)
	}
	return nil
}

// Local says whether a is one of the host's own addresses.
func Local(a netip.Addr) (bool, error) {
	onLink, elsewhere, err := localAddrs(-1)
	if err != nil {
		return false, err
	}
	for _, l := range append(onLink, elsewhere...) {
		if l == a {
			return true, nil
		}
	}
	return false, nil
}

// localAddrs lists the host's IPv4 addresses, split into those on the
// link with index own and those elsewhere.
func localAddrs(own int) (onLink, elsewhere []netip.Addr, err error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, nil, fmt.Errorf("host gateways: listing addresses: %w", err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		if a.LinkIndex == own {
			onLink = append(onLink, ip)
		} else {
			elsewhere = append(elsewhere, ip)
		}
	}
	return onLink, elsewhere, nil
}

func hostAddr(a netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}}
}
