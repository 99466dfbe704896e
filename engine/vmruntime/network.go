package vmruntime

import (
	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// nics are the VM's network interfaces, in the container's order.
func nics(n *engine.NetworkConfig) []vm.NIC {
	if n == nil {
		return nil
	}
	out := make([]vm.NIC, 0, len(n.Interfaces))
	for _, itf := range n.Interfaces {
		out = append(out, vm.NIC{MAC: itf.MAC, MTU: itf.MTU, Attach: itf.Attach})
	}
	return out
}

// networkSpec is what the guest needs to set the interfaces up and write
// /etc/hosts and /etc/resolv.conf.
func networkSpec(n *engine.NetworkConfig) *proto.NetworkSpec {
	if n == nil {
		return nil
	}
	spec := &proto.NetworkSpec{
		Nameservers: n.Nameservers,
		Search:      n.Search,
		Options:     n.Options,
		Hosts:       n.Hosts,
	}
	if n.Gateway.IsValid() {
		spec.Gateway = n.Gateway.String()
	}
	for _, itf := range n.Interfaces {
		spec.Interfaces = append(spec.Interfaces, proto.InterfaceSpec{MAC: itf.MAC, Address: itf.Address.String(), MTU: itf.MTU})
	}
	return spec
}
