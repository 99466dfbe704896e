package platform

import (
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

// FuzzParse checks that Parse never panics, that every platform it accepts
// is one pier supports and parses back to itself from its String, and that
// every refusal is an invalid-parameter error naming what is supported.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "amd64", "arm64", "linux/amd64", "linux/arm64/v8", "LINUX/X86_64",
		"linux/x86-64", "aarch64", "linux/amd64/v1", "linux/arm64/v7",
		"windows/amd64", "linux//", "a/b/c/d", " linux/arm64 ", "linux/riscv64",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) {
				t.Fatalf("Parse(%q): %v is not an invalid-parameter error", s, err)
			}
			if !strings.Contains(err.Error(), "supported platforms: linux/amd64, linux/arm64/v8") {
				t.Fatalf("Parse(%q): %q does not name the supported platforms", s, err)
			}
			return
		}
		if !slices.Contains(Supported, p) {
			t.Fatalf("Parse(%q) = %#v, not a supported platform", s, p)
		}
		back, err := Parse(p.String())
		if err != nil || back != p {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v, %v", s, p, p.String(), back, err)
		}
	})
}
