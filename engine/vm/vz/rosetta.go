package vz

import (
	"fmt"

	"github.com/pier-vm/pier/errdefs"
)

// rosettaAvailability mirrors Virtualization.framework's
// VZLinuxRosettaAvailability, so that the decision below builds and is
// tested everywhere.
type rosettaAvailability int

const (
	rosettaNotSupported rosettaAvailability = iota
	rosettaNotInstalled
	rosettaInstalled
)

// rosettaStatus asks the host whether Rosetta for Linux can be shared; the
// darwin/arm64 build asks Virtualization.framework, other builds say "not
// supported". Tests replace it.
var rosettaStatus = hostRosettaStatus

// checkRosetta turns the host's Rosetta availability into nil (share it)
// or an error that tells the user what to do.
func checkRosetta(a rosettaAvailability) error {
	switch a {
	case rosettaInstalled:
		return nil
	case rosettaNotInstalled:
		return errdefs.Unavailable(fmt.Errorf("Rosetta for Linux is not installed: run `softwareupdate --install-rosetta --agree-to-license`, then retry"))
	default:
		// pierd runs only on Apple silicon with macOS 13 or later, where
		// Rosetta for Linux exists; this is Virtualization.framework
		// saying otherwise.
		return errdefs.NotImplemented(fmt.Errorf("Virtualization.framework reports Rosetta for Linux as not supported on this Mac"))
	}
}

// CheckRosetta tells whether this host can share Rosetta for Linux into
// its guests: nil when it can, else an error that says what to do,
// classified Unavailable (not installed: run softwareupdate) or
// NotImplemented (Virtualization.framework says not supported; every
// build but darwin/arm64 says so).
func CheckRosetta() error { return checkRosetta(rosettaStatus()) }
