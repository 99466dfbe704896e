// Package version holds pier's build identity. The Makefile sets the
// variables with -ldflags "-X github.com/pier-vm/pier/version.Version=...".
package version

import "runtime"

// Build identity, overridden at link time.
var (
	// Version is pier's release version (the Makefile sets it from git;
	// "0.0.0-dev" for a plain go build, still a valid semantic version for
	// tools that parse it).
	Version = "0.0.0-dev"
	// GitCommit is the commit pier was built from, when known.
	GitCommit = "unknown"
	// BuildTime is when the binary was built (RFC 3339), when known.
	BuildTime = ""
)

// API versions of the Docker Engine API that pier speaks.
const (
	// MaxAPIVersion is the newest API version pier serves; it is also the
	// version assumed when a request carries no /vX.Y prefix.
	MaxAPIVersion = "1.51"
	// MinAPIVersion is the oldest API version pier accepts.
	MinAPIVersion = "1.24"
)

// GoVersion is the Go toolchain pier was built with.
func GoVersion() string { return runtime.Version() }

// ServerHeader is the value of the Server response header.
func ServerHeader() string { return "pier/" + Version }
