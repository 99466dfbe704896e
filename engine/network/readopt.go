package network

import (
	"fmt"
	"net/netip"
	"strings"
)

// Readopt records again the endpoint a running container had on network
// id before the daemon restarted (live restore): same endpoint ID, same
// address, same DNS names, pushed to the running datapaths.
func (ns *Registry) Readopt(id, containerID, endpointID string, addr netip.Addr, names []string) error {
	if err := ns.readopt(id, containerID, endpointID, addr, names); err != nil {
		return err
	}
	ns.push()
	return nil
}

func (ns *Registry) readopt(id, containerID, endpointID string, addr netip.Addr, names []string) error {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	st, ok := ns.byID[id]
	if !ok {
		return errNoSuchNetwork(id)
	}
	if old := st.eps[containerID]; old != nil {
		return fmt.Errorf("container %s already has an endpoint on network %s", containerID, st.n.Name)
	}
	if !st.n.Subnet.Contains(addr) || st.inUse()[addr] {
		return fmt.Errorf("address %s is not free on network %s", addr, st.n.Name)
	}
	lower := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" {
			lower = append(lower, strings.ToLower(n))
		}
	}
	st.eps[containerID] = &ActiveEndpoint{EndpointID: endpointID, Names: lower, Addr: addr}
	return nil
}
