package vz

import "github.com/Code-Hex/vz/v3"

// hostRosettaStatus asks Virtualization.framework whether Rosetta for
// Linux can be shared.
func hostRosettaStatus() rosettaAvailability {
	switch vz.LinuxRosettaDirectoryShareAvailability() {
	case vz.LinuxRosettaAvailabilityInstalled:
		return rosettaInstalled
	case vz.LinuxRosettaAvailabilityNotInstalled:
		return rosettaNotInstalled
	default:
		return rosettaNotSupported
	}
}
