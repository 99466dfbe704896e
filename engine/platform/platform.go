// Package platform is pier's single source of truth for image platforms
// (os/arch[/variant]): parsing, normalisation, the host platform, and whether a
// platform needs emulation on this host.
package platform

import (
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/errdefs"
)

// Platform is a normalised os/arch[/variant] triple. Only linux/amd64 and
// linux/arm64 (variant v8) are valid in pier.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// Supported lists the platforms pier can run, in a stable order.
var Supported = []Platform{
	{OS: "linux", Architecture: "amd64"},
	{OS: "linux", Architecture: "arm64", Variant: "v8"},
}

func supportedList() string {
	names := make([]string, len(Supported))
	for i, p := range Supported {
		names[i] = p.String()
	}
	return strings.Join(names, ", ")
}

// normaliseArch maps architecture aliases onto their GOARCH names.
func normaliseArch(arch string) string {
	switch arch {
	case "x86_64", "x86-64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	}
	return arch
}

// Parse parses "os/arch[/variant]" or a bare "arch" (os defaults to linux),
// normalises case and aliases, and rejects anything pier cannot run with an
// invalid-parameter error naming what is supported.
func Parse(s string) (Platform, error) {
	orig := s
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return Platform{}, errdefs.InvalidParameterf("invalid platform %q: empty; supported platforms: %s", orig, supportedList())
	}
	parts := strings.Split(s, "/")
	var p Platform
	switch len(parts) {
	case 1:
		p = Platform{OS: "linux", Architecture: parts[0]}
	case 2:
		p = Platform{OS: parts[0], Architecture: parts[1]}
	case 3:
		p = Platform{OS: parts[0], Architecture: parts[1], Variant: parts[2]}
	default:
		return Platform{}, errdefs.InvalidParameterf("invalid platform %q: want os/arch[/variant]; supported platforms: %s", orig, supportedList())
	}
	if p.OS == "" || p.Architecture == "" || (len(parts) == 3 && p.Variant == "") {
		return Platform{}, errdefs.InvalidParameterf("invalid platform %q: want os/arch[/variant]; supported platforms: %s", orig, supportedList())
	}
	return p.normalise(orig)
}

// FromV1 converts and validates a go-containerregistry platform (for example
// the one recorded in an image config).
func FromV1(v v1.Platform) (Platform, error) {
	p := Platform{OS: strings.ToLower(v.OS), Architecture: strings.ToLower(v.Architecture), Variant: strings.ToLower(v.Variant)}
	return p.normalise(p.String())
}

func (p Platform) normalise(orig string) (Platform, error) {
	p.Architecture = normaliseArch(p.Architecture)
	if p.OS != "linux" {
		return Platform{}, errdefs.InvalidParameterf("unsupported platform %q: operating system %q is not supported; supported platforms: %s", orig, p.OS, supportedList())
	}
	switch p.Architecture {
	case "amd64":
		if p.Variant != "" && p.Variant != "v1" {
			return Platform{}, errdefs.InvalidParameterf("unsupported platform %q: variant %q of amd64 is not supported; supported platforms: %s", orig, p.Variant, supportedList())
		}
		p.Variant = ""
	case "arm64":
		if p.Variant != "" && p.Variant != "v8" {
			return Platform{}, errdefs.InvalidParameterf("unsupported platform %q: variant %q of arm64 is not supported; supported platforms: %s", orig, p.Variant, supportedList())
		}
		p.Variant = "v8"
	default:
		return Platform{}, errdefs.InvalidParameterf("unsupported platform %q: architecture %q is not supported; supported platforms: %s", orig, p.Architecture, supportedList())
	}
	return p, nil
}

// String renders the platform as os/arch[/variant].
func (p Platform) String() string {
	if p.Variant != "" {
		return fmt.Sprintf("%s/%s/%s", p.OS, p.Architecture, p.Variant)
	}
	return fmt.Sprintf("%s/%s", p.OS, p.Architecture)
}

// IsZero reports whether p is the empty platform (meaning "not given").
func (p Platform) IsZero() bool { return p == Platform{} }

// V1 converts p to go-containerregistry's platform type.
func (p Platform) V1() v1.Platform {
	return v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// Matches reports whether a manifest-list entry for other (which may omit the
// arm64 variant, or use an alias) denotes the same platform as p.
func (p Platform) Matches(other v1.Platform) bool {
	q, err := FromV1(other)
	return err == nil && q == p
}

// Host is the platform of the machine pierd runs on.
func Host() Platform {
	p, err := Parse("linux/" + runtime.GOARCH)
	if err != nil {
		// pier is only built for amd64 and arm64 hosts.
		panic(err)
	}
	return p
}

// NeedsEmulation reports whether an image of platform p needs an emulator to
// run on host (the architectures differ).
func (p Platform) NeedsEmulation(host Platform) bool {
	return p.Architecture != host.Architecture
}
