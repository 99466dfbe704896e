package init

import (
	"bytes"
	"net"
	"sort"
)

// nicInfo is one network interface as matchNICs sees it.
type nicInfo struct {
	Index int
	MAC   net.HardwareAddr
}

// matchNICs picks the interface for each wanted MAC address: the one that
// has it, as a cold-booted VM's NICs do; failing that, once there are
// enough interfaces whose address nobody wants, those in index order (a VM
// cloned from a template keeps the template's placeholder MACs, and its
// NICs are the template's, in the same order). It returns, per wanted MAC,
// an index into have, and false while interfaces are still missing.
// Only Ethernet interfaces (6-byte addresses, not all zeros as loopback's)
// count as spare.
func matchNICs(want []net.HardwareAddr, have []nicInfo) ([]int, bool) {
	out := make([]int, len(want))
	taken := map[int]bool{}
	var unmatched []int
	for i, w := range want {
		out[i] = -1
		for j, h := range have {
			if !taken[j] && bytes.Equal(h.MAC, w) {
				out[i], taken[j] = j, true
				break
			}
		}
		if out[i] < 0 {
			unmatched = append(unmatched, i)
		}
	}
	if len(unmatched) == 0 {
		return out, true
	}
	var spare []int
	for j, h := range have {
		if taken[j] || len(h.MAC) != 6 || bytes.Equal(h.MAC, make(net.HardwareAddr, 6)) || wanted(want, h.MAC) {
			continue
		}
		spare = append(spare, j)
	}
	if len(spare) < len(unmatched) {
		return nil, false
	}
	sort.Slice(spare, func(a, b int) bool { return have[spare[a]].Index < have[spare[b]].Index })
	for k, i := range unmatched {
		out[i] = spare[k]
	}
	return out, true
}

func wanted(want []net.HardwareAddr, mac net.HardwareAddr) bool {
	for _, w := range want {
		if bytes.Equal(w, mac) {
			return true
		}
	}
	return false
}
