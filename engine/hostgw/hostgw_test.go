package hostgw

import (
	"net/netip"
	"slices"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func TestPlan(t *testing.T) {
	cases := []struct {
		name                    string
		want, onLink, elsewhere []netip.Addr
		add, del                []netip.Addr
	}{
		{name: "fresh host", want: addrs("172.18.0.1", "172.17.0.1"), add: addrs("172.17.0.1", "172.18.0.1")},
		{name: "already there", want: addrs("172.17.0.1"), onLink: addrs("172.17.0.1")},
		{name: "docker0 has it", want: addrs("172.17.0.1"), elsewhere: addrs("172.17.0.1", "10.0.0.2")},
		{name: "network removed", want: addrs("172.17.0.1"), onLink: addrs("172.17.0.1", "172.19.0.1"), del: addrs("172.19.0.1")},
		{name: "duplicate of another interface goes", want: addrs("172.17.0.1"), onLink: addrs("172.17.0.1"), elsewhere: addrs("172.17.0.1"), del: addrs("172.17.0.1")},
		{name: "ipv6 and duplicates ignored", want: addrs("fd00::1", "172.17.0.1", "172.17.0.1"), add: addrs("172.17.0.1")},
		{name: "nothing wanted", onLink: addrs("172.17.0.1"), del: addrs("172.17.0.1")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			add, del := Plan(c.want, c.onLink, c.elsewhere)
			if !slices.Equal(add, c.add) || !slices.Equal(del, c.del) {
				t.Fatalf("Plan = add %v del %v, want add %v del %v", add, del, c.add, c.del)
			}
		})
	}
}
