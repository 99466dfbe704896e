package init

import (
	"net"
	"slices"
	"testing"
)

func macs(ss ...string) []net.HardwareAddr {
	var out []net.HardwareAddr
	for _, s := range ss {
		m, err := net.ParseMAC(s)
		if err != nil {
			panic(err)
		}
		out = append(out, m)
	}
	return out
}

func TestMatchNICs(t *testing.T) {
	lo := nicInfo{Index: 1, MAC: make(net.HardwareAddr, 6)}
	a := nicInfo{Index: 2, MAC: macs("02:42:ac:11:00:02")[0]}
	b := nicInfo{Index: 3, MAC: macs("02:42:ac:12:00:05")[0]}
	t1 := nicInfo{Index: 3, MAC: macs("02:50:00:00:00:00")[0]}
	t2 := nicInfo{Index: 2, MAC: macs("02:50:00:00:00:01")[0]}
	cases := []struct {
		name  string
		want  []net.HardwareAddr
		have  []nicInfo
		out   []int
		ready bool
	}{
		{"cold boot, by MAC", macs("02:42:ac:12:00:05", "02:42:ac:11:00:02"), []nicInfo{lo, a, b}, []int{2, 1}, true},
		{"cold boot, one NIC not probed yet", macs("02:42:ac:12:00:05", "02:42:ac:11:00:02"), []nicInfo{lo, a}, nil, false},
		{"clone, by index order", macs("02:42:ac:11:00:02", "02:42:ac:12:00:05"), []nicInfo{lo, t1, t2}, []int{2, 1}, true},
		{"clone, too few NICs", macs("02:42:ac:11:00:02", "02:42:ac:12:00:05"), []nicInfo{lo, t1}, nil, false},
		{"no network", nil, []nicInfo{lo, t1}, []int{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, ready := matchNICs(c.want, c.have)
			if ready != c.ready || (ready && !slices.Equal(out, c.out)) {
				t.Fatalf("matchNICs = %v, %v; want %v, %v", out, ready, c.out, c.ready)
			}
		})
	}
}
