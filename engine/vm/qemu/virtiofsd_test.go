package qemu

import (
	"path/filepath"
	"strings"
	"testing"
)

// Two VMs' virtiofsd must not derive the same pid file name from their
// socket paths, or the second one refuses to start; the path must still
// name the VM's own socket from its state dir.
func TestVirtiofsdSocketPathIsUniquePerVM(t *testing.T) {
	long := "/var/lib/" + strings.Repeat("p", 40) + "/containers/"
	cases := [][2]string{
		{"/data/containers/aaaa/vm", "/data/containers/bbbb/vm"},
		{long + strings.Repeat("a", 64) + "/vm", long + strings.Repeat("b", 64) + "/vm"},
	}
	for _, c := range cases {
		a, b := pidUniqueSocketPath(c[0], shareSocketName(0)), pidUniqueSocketPath(c[1], shareSocketName(0))
		if a == b {
			t.Errorf("same socket path %q for %s and %s", a, c[0], c[1])
		}
		for i, p := range []string{a, b} {
			if len(p) > maxSocketPath {
				t.Errorf("%q is too long for a unix socket", p)
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(c[i], p)
			}
			if want := filepath.Join(c[i], "fs0.sock"); p != want {
				t.Errorf("%q does not resolve to %q", p, want)
			}
		}
	}
}
