package image

import (
	"strings"
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

// FuzzParseRef feeds arbitrary image references to parseRef: nothing
// panics, every refusal is "invalid reference format" as an invalid
// parameter, and every accepted reference is normalized: it has a tag or
// a digest, it parses back to itself, and its familiar form does too.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:1.36",
		"localhost:5000/a/b:tag", "127.0.0.1:5000/x", "[::1]:5000/x:y", "Busybox", "busybox:",
		"busybox@sha256:" + strings.Repeat("a", 64), "busybox:1@sha256:" + strings.Repeat("b", 64),
		"busybox@sha256:abc", "a//b", "../x", "x/../y", "a:b:c", "", ":", "@", "sha256:" + strings.Repeat("c", 64),
		strings.Repeat("a", 300), "ghcr.io/o/r:" + strings.Repeat("t", 200), "host:99999/x", "x\x00y",
	} {
		f.Add(s)
	}
	s := &Service{insecure: []string{"10.0.0.0/8", "reg.example:5000"}}
	f.Fuzz(func(t *testing.T, ref string) {
		p, err := s.parseRef(ref)
		if err != nil {
			if !errdefs.IsInvalidParameter(err) || !strings.HasPrefix(err.Error(), "invalid reference format") {
				t.Fatalf("parseRef(%q): %v is not an invalid reference format error", ref, err)
			}
			return
		}
		full := p.named.String()
		if !strings.Contains(full, ":") && !strings.Contains(full, "@") {
			t.Fatalf("parseRef(%q) = %s has neither tag nor digest", ref, full)
		}
		for _, again := range []string{full, p.familiar()} {
			q, err := s.parseRef(again)
			if err != nil {
				t.Fatalf("parseRef(%q) = %s, but %q does not parse: %v", ref, full, again, err)
			}
			if q.named.String() != full || q.ref.String() != p.ref.String() {
				t.Fatalf("parseRef(%q) = %s (%s), but %q parses to %s (%s)", ref, full, p.ref, again, q.named, q.ref)
			}
		}
	})
}
