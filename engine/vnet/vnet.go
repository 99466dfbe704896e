// Package vnet is a user-space virtual Ethernet network: a switch that VMs
// attach to over a socket (length-prefixed frames for QEMU, datagrams for
// Virtualization.framework), a gateway that NATs the VMs' TCP and UDP flows
// to the host's own sockets, a DNS server, and forwarding from host
// listeners into the network (published ports). It needs no root, no bridge
// and no iptables on the host. The switch, the gateway's link endpoint and
// the NAT forwarders are github.com/containers/gvisor-tap-vsock's, over
// gVisor's TCP/IP stack. vnet knows nothing of Docker: names to resolve
// come from a Resolver callback.
package vnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"github.com/containers/gvisor-tap-vsock/pkg/tap"
	"github.com/containers/gvisor-tap-vsock/pkg/types"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// DefaultMTU is the MTU of the guests' interfaces and the gateway. The
// frames travel over a host socket, not a wire, so they can be as large as
// a virtio-net device takes: per-frame costs (a syscall and a gVisor
// packet each) dominate, and 65520 instead of 1500 made a download over a
// published port about 4x faster under TCG (docs/performance.md).
const DefaultMTU = 65520

// gatewayMAC is the MAC address of every network's gateway.
const gatewayMAC = "5a:94:ef:e4:0c:dd"

// Resolver answers DNS questions for names inside the network. src is the
// address the query came from (a VM on this network); ok false means the
// name is not a network name and goes to the host's resolver.
type Resolver func(src netip.Addr, name string) (addrs []netip.Addr, ok bool)

// Config describes one network.
type Config struct {
	// Subnet and Gateway are the network's IPv4 prefix and the gateway's
	// address in it.
	Subnet  netip.Prefix
	Gateway netip.Addr
	// HostAlias, when valid, is an address in Subnet that reaches the host's
	// loopback (host.docker.internal).
	HostAlias netip.Addr
	// Internal networks have no way out: the gateway forwards nothing to
	// the host (DNS for network names still works).
	Internal bool
	// Blocked says which destinations the gateway must not forward to (for
	// example other virtual networks' subnets, so networks stay isolated).
	Blocked func(netip.Addr) bool
	// Resolve answers names inside the network (nil: none).
	Resolve Resolver
	// Upstream is the DNS server other names go to ("ip:port"; empty: the
	// first nameserver of the host's /etc/resolv.conf).
	Upstream string
	MTU      int
}

// Network is one running virtual network.
type Network struct {
	cfg    Config
	stack  *stack.Stack
	sw     *tap.Switch
	dns    *dnsServer
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	attached map[*os.File]net.Conn
}

// quietSwitch silences gvisor-tap-vsock's logger (logrus), which reports
// every VM that goes away as an error; pier logs what matters itself.
var quietSwitch sync.Once

// New starts a network.
func New(cfg Config) (*Network, error) {
	quietSwitch.Do(func() { logrus.SetLevel(logrus.PanicLevel) })
	if !cfg.Subnet.IsValid() || !cfg.Subnet.Addr().Is4() {
		return nil, fmt.Errorf("vnet: subnet %v: an IPv4 prefix is required", cfg.Subnet)
	}
	cfg.Subnet = cfg.Subnet.Masked()
	if !cfg.Subnet.Contains(cfg.Gateway) {
		return nil, fmt.Errorf("vnet: gateway %v is not in %v", cfg.Gateway, cfg.Subnet)
	}
	if cfg.HostAlias.IsValid() && !cfg.Subnet.Contains(cfg.HostAlias) {
		return nil, fmt.Errorf("vnet: host alias %v is not in %v", cfg.HostAlias, cfg.Subnet)
	}
	if cfg.MTU == 0 {
		cfg.MTU = DefaultMTU
	}
	if cfg.Upstream == "" {
		cfg.Upstream = hostNameserver("/etc/resolv.conf")
	}
	var virtualIPs []string
	if cfg.HostAlias.IsValid() {
		virtualIPs = append(virtualIPs, cfg.HostAlias.String())
	}
	ep, err := tap.NewLinkEndpoint(false, uint32(cfg.MTU), gatewayMAC, cfg.Gateway.String(), virtualIPs)
	if err != nil {
		return nil, err
	}
	sw := tap.NewSwitch(false)
	ep.Connect(sw)
	sw.Connect(ep)
	s, err := newStack(cfg, ep)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Network{cfg: cfg, stack: s, sw: sw, ctx: ctx, cancel: cancel, attached: map[*os.File]net.Conn{}}
	if n.dns, err = startDNS(s, cfg); err != nil {
		cancel()
		s.Close()
		return nil, err
	}
	return n, nil
}

// Attach connects one VM network interface: it returns the VM's end of a
// socket pair (SOCK_STREAM carrying frames with a 4-byte big-endian length,
// QEMU's `-netdev socket`/`stream` format; or SOCK_DGRAM with one frame per
// datagram, Virtualization.framework's file-handle attachment). The caller
// hands the file to the VM process and closes its copy; the interface is
// detached when the VM closes its end.
func (n *Network) Attach(datagram bool) (*os.File, error) {
	typ, proto := unix.SOCK_STREAM, types.QemuProtocol
	if datagram {
		typ, proto = unix.SOCK_DGRAM, types.VfkitProtocol
	}
	fds, err := socketpair(typ)
	if err != nil {
		return nil, fmt.Errorf("vnet: socketpair: %w", err)
	}
	if datagram {
		// Both ends: the switch's and the one the VM process (the vz shim)
		// reads and writes.
		for _, fd := range fds {
			if err := SizeDatagramBuffers(fd); err != nil {
				unix.Close(fds[0])
				unix.Close(fds[1])
				return nil, fmt.Errorf("vnet: %w", err)
			}
		}
	}
	vmEnd := os.NewFile(uintptr(fds[0]), "vnet-vm")
	ours := os.NewFile(uintptr(fds[1]), "vnet-switch")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		vmEnd.Close()
		return nil, fmt.Errorf("vnet: %w", err)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		conn.Close()
		vmEnd.Close()
		return nil, errors.New("vnet: network is closed")
	}
	n.attached[vmEnd] = conn
	n.mu.Unlock()
	go func() {
		_ = n.sw.Accept(n.ctx, conn, proto)
		n.mu.Lock()
		delete(n.attached, vmEnd)
		n.mu.Unlock()
	}()
	return vmEnd, nil
}

// Datagram socket buffer sizes for both ends of a VM's datagram socket
// pair. macOS's unix-datagram defaults (net.local.dgram.maxdgram 2 KiB
// send, recvspace 4 KiB receive in XNU) are far below the 65520-byte MTU
// the networks use: without this a large frame from the guest fails with
// EMSGSIZE and a frame to the guest never fits (ENOBUFS, retried forever
// by the switch). Apple's VZFileHandleNetworkDeviceAttachment documentation
// asks for SO_RCVBUF at least 4× SO_SNDBUF, and Virtualization.framework
// reads and writes the VM's end, so that end is sized here too, before the
// file is handed to the VM process. Linux clamps to net.core.[rw]mem_max
// (and reports twice the value set); the sizes still hold a 64 KiB frame.
const (
	DatagramSendBuffer    = 1 << 20
	DatagramReceiveBuffer = 4 << 20
)

// SizeDatagramBuffers sets SO_SNDBUF and SO_RCVBUF of the datagram socket
// fd to DatagramSendBuffer and DatagramReceiveBuffer.
func SizeDatagramBuffers(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, DatagramSendBuffer); err != nil {
		return fmt.Errorf("SO_SNDBUF %d: %w", DatagramSendBuffer, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, DatagramReceiveBuffer); err != nil {
		return fmt.Errorf("SO_RCVBUF %d: %w", DatagramReceiveBuffer, err)
	}
	return nil
}

// Close stops the network: every attached interface is disconnected and
// the DNS server stops. Published ports must be closed by their owners.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	conns := make([]net.Conn, 0, len(n.attached))
	for _, c := range n.attached {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	n.cancel()
	for _, c := range conns {
		c.Close()
	}
	n.dns.close()
	n.stack.Close()
	return nil
}

// socketpair makes a close-on-exec unix socket pair; the fork lock keeps a
// concurrent exec from inheriting it before the flag is set (darwin has
// no SOCK_CLOEXEC).
func socketpair(typ int) ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, typ, 0)
	if err != nil {
		return fds, err
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	return fds, nil
}
