//go:build linux

package init

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/pier-vm/pier/guest/proto"
)

// linkWait bounds the wait for a virtio-net interface to show up after its
// driver was loaded.
const linkWait = 5 * time.Second

// configureNetwork brings up loopback and every interface of spec.Network
// (found by MAC address, renamed eth0, eth1, ... in the spec's order, as
// Docker names them), then adds the default route.
func configureNetwork(spec *proto.ContainerSpec) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("loopback up: %w", err)
	}
	ns := spec.Network
	if ns == nil {
		return nil
	}
	links, err := findLinks(ns.Interfaces, linkWait)
	if err != nil {
		return err
	}
	// Interfaces the kernel already named as Docker would (one NIC: eth0)
	// keep their names: a rename costs tens of milliseconds under TCG.
	rename := false
	for i, l := range links {
		rename = rename || l.Attrs().Name != fmt.Sprintf("eth%d", i)
	}
	for i, l := range links {
		if !rename {
			break
		}
		// A temporary name first, so renames never collide.
		if err := netlink.LinkSetName(l, fmt.Sprintf("pier%d", i)); err != nil {
			return fmt.Errorf("rename %s: %w", l.Attrs().Name, err)
		}
	}
	for i, itf := range ns.Interfaces {
		l := links[i]
		if rename {
			if err := netlink.LinkSetName(l, fmt.Sprintf("eth%d", i)); err != nil {
				return fmt.Errorf("rename eth%d: %w", i, err)
			}
		}
		if itf.MTU > 0 {
			if err := netlink.LinkSetMTU(l, itf.MTU); err != nil {
				return fmt.Errorf("eth%d mtu: %w", i, err)
			}
		}
		addr, err := netlink.ParseAddr(itf.Address)
		if err != nil {
			return fmt.Errorf("eth%d: %w", i, err)
		}
		if err := netlink.AddrAdd(l, addr); err != nil {
			return fmt.Errorf("eth%d address %s: %w", i, itf.Address, err)
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("eth%d up: %w", i, err)
		}
	}
	if ns.Gateway != "" {
		gw := net.ParseIP(ns.Gateway)
		if gw == nil {
			return fmt.Errorf("bad gateway %q", ns.Gateway)
		}
		if err := netlink.RouteAdd(&netlink.Route{Gw: gw}); err != nil {
			return fmt.Errorf("default route via %s: %w", ns.Gateway, err)
		}
	}
	return nil
}

// findLinks waits up to d for the interfaces of itfs (matchNICs) and gives
// each the MAC address the host chose for it, which a clone's NICs do not
// have yet (the device learns it through virtio-net's control queue).
func findLinks(itfs []proto.InterfaceSpec, d time.Duration) ([]netlink.Link, error) {
	want := make([]net.HardwareAddr, len(itfs))
	for i, itf := range itfs {
		m, err := net.ParseMAC(itf.MAC)
		if err != nil {
			return nil, err
		}
		want[i] = m
	}
	deadline := time.Now().Add(d)
	for {
		all, err := netlink.LinkList()
		if err != nil {
			return nil, err
		}
		have := make([]nicInfo, len(all))
		for j, l := range all {
			if l.Attrs().EncapType == "ether" {
				have[j] = nicInfo{Index: l.Attrs().Index, MAC: l.Attrs().HardwareAddr}
			}
		}
		if pick, ok := matchNICs(want, have); ok {
			links := make([]netlink.Link, len(want))
			for i, j := range pick {
				links[i] = all[j]
				if !bytes.Equal(all[j].Attrs().HardwareAddr, want[i]) {
					if err := netlink.LinkSetHardwareAddr(all[j], want[i]); err != nil {
						return nil, fmt.Errorf("set MAC %s on %s: %w", want[i], all[j].Attrs().Name, err)
					}
				}
			}
			return links, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no network interface with MAC %s", want[len(want)-1])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hostsFile is the container's /etc/hosts: Docker's localhost lines, then
// the network's lines (the container's own addresses, --add-host); without
// a network the hostname maps to 127.0.1.1.
func hostsFile(hostname string, ns *proto.NetworkSpec) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
	if ns == nil || len(ns.Hosts) == 0 {
		fmt.Fprintf(&b, "127.0.1.1\t%s\n", hostname)
		return b.String()
	}
	for _, l := range ns.Hosts {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// resolvConf is the container's /etc/resolv.conf.
func resolvConf(ns *proto.NetworkSpec) string {
	if ns == nil {
		return ""
	}
	var b strings.Builder
	for _, s := range ns.Nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(ns.Search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(ns.Search, " "))
	}
	if len(ns.Options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(ns.Options, " "))
	}
	return b.String()
}

// writeNameFiles writes /etc/hostname, /etc/hosts and /etc/resolv.conf in
// the container's root (after the switch).
func writeNameFiles(hostname string, ns *proto.NetworkSpec) error {
	if err := os.MkdirAll("/etc", 0o755); err != nil {
		return err
	}
	files := []struct{ path, data string }{
		{"/etc/hostname", hostname + "\n"},
		{"/etc/hosts", hostsFile(hostname, ns)},
		{"/etc/resolv.conf", resolvConf(ns)},
	}
	for _, f := range files {
		// Replace, not write through: the image may ship a symlink
		// (resolv.conf -> /run/systemd/...) that must not be followed.
		_ = os.Remove(f.path)
		if err := os.WriteFile(f.path, []byte(f.data), 0o644); err != nil {
			return err
		}
	}
	return nil
}
