package image

import (
	"net"
	"strings"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/pier-vm/pier/errdefs"
)

// parsed is a user's image reference in both libraries' forms.
type parsed struct {
	named reference.Named // normalized (docker.io/library/busybox:latest)
	ref   name.Reference  // for the registry
}

// familiar is the reference as Docker shows it ("busybox:latest").
func (p parsed) familiar() string { return reference.FamiliarString(p.named) }

// familiarName is the repository as Docker shows it ("busybox").
func (p parsed) familiarName() string { return reference.FamiliarName(p.named) }

// parseRef parses ref, defaulting the tag to latest unless a digest is given.
func (s *Service) parseRef(ref string) (parsed, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return parsed{}, errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	if c, ok := named.(reference.Canonical); ok {
		// name:tag@digest pulls by digest; Docker drops the tag.
		if named, err = reference.WithDigest(reference.TrimNamed(named), c.Digest()); err != nil {
			return parsed{}, errdefs.InvalidParameterf("invalid reference format: %s", ref)
		}
	}
	named = reference.TagNameOnly(named)
	var opts []name.Option
	if s.isInsecure(reference.Domain(named)) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(named.String(), opts...)
	if err != nil {
		return parsed{}, errdefs.InvalidParameterf("invalid reference format: %s", ref)
	}
	return parsed{named: named, ref: r}, nil
}

// isInsecure says whether a registry is reached over plain HTTP.
func (s *Service) isInsecure(domain string) bool {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return true
	}
	for _, r := range s.insecure {
		if r == domain || r == host {
			return true
		}
		if _, cidr, err := net.ParseCIDR(r); err == nil {
			if ip := net.ParseIP(host); ip != nil && cidr.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// digestRef is the familiar repo@digest form.
func digestRef(familiarName, digest string) string { return familiarName + "@" + digest }

func isDigestRef(r string) bool { return strings.Contains(r, "@sha256:") }
