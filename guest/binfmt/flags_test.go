package binfmt_test

import (
	"testing"

	"github.com/pier-vm/pier/guest/binfmt"
	"github.com/pier-vm/pier/guest/proto"
)

// The host sends the flags in proto.EmulationSpec; the reasons for them are
// documented here. The two must not drift apart.
func TestFlagsAgreeWithTheProtocol(t *testing.T) {
	cases := []struct{ name, guest, host string }{
		{"qemu-user", binfmt.FlagsQEMU, proto.BinfmtFlagsQEMU},
		{"rosetta", binfmt.FlagsRosetta, proto.BinfmtFlagsRosetta},
	}
	for _, tc := range cases {
		if tc.guest != tc.host {
			t.Errorf("%s: binfmt flags %q, proto flags %q", tc.name, tc.guest, tc.host)
		}
	}
}
