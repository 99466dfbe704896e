// Package emulation decides how a container of one architecture runs on a
// host of another: not at all (native), with Apple's Rosetta (vz driver on
// Apple silicon), or with a static qemu-user emulator shared into the VM.
// The decision is a pure function of the host, the image and what the host
// offers, so every case has a table test.
package emulation

import (
	"fmt"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// Kind is how a container is emulated.
type Kind string

// Kinds of emulation.
const (
	None     Kind = ""
	Rosetta  Kind = "rosetta"
	QEMUUser Kind = "qemu-user"
)

// RosettaAvailability mirrors what Virtualization.framework reports.
type RosettaAvailability int

// Rosetta availabilities.
const (
	RosettaUnsupported RosettaAvailability = iota
	RosettaNotInstalled
	RosettaInstalled
)

// Capabilities is what the host and its VM driver can offer.
type Capabilities struct {
	// Driver is the VM driver's name ("qemu", "vz").
	Driver string
	// Rosetta is only meaningful for the vz driver.
	Rosetta RosettaAvailability
	// QEMUUser maps an image architecture to the host path of its static
	// qemu-user emulator.
	QEMUUser map[string]string
}

// Plan is the decision for one container.
type Plan struct {
	Kind Kind
	// Arch is the image's architecture.
	Arch string
	// EmulatorPath is the host path of the qemu-user binary.
	EmulatorPath string
	// Interpreter is the emulator's file name inside the share.
	Interpreter string
}

// ShareTag is the virtio-fs tag the emulator is shared under.
const ShareTag = "pier-emul"

// QEMUBinary is the Debian qemu-user-static binary name for an arch.
func QEMUBinary(arch string) string {
	switch arch {
	case "amd64":
		return "qemu-x86_64-static"
	case "arm64":
		return "qemu-aarch64-static"
	}
	return "qemu-" + arch + "-static"
}

// Decide picks the emulation for an image of platform img on host.
func Decide(host, img platform.Platform, caps Capabilities) (Plan, error) {
	if !img.NeedsEmulation(host) {
		return Plan{Kind: None}, nil
	}
	prefix := fmt.Sprintf("cannot run %s image on %s host", img, host)
	if caps.Driver == "vz" {
		if host.Architecture != "arm64" || img.Architecture != "amd64" {
			return Plan{}, errdefs.InvalidParameterf("%s: emulating %s on an Intel Mac is not supported", prefix, img.Architecture)
		}
		switch caps.Rosetta {
		case RosettaInstalled:
			return Plan{Kind: Rosetta, Arch: img.Architecture, Interpreter: "rosetta"}, nil
		case RosettaNotInstalled:
			return Plan{}, errdefs.InvalidParameterf("%s: Rosetta is not installed: run softwareupdate --install-rosetta --agree-to-license", prefix)
		default:
			return Plan{}, errdefs.InvalidParameterf("%s: Rosetta needs Apple silicon and macOS 13 or later", prefix)
		}
	}
	bin := QEMUBinary(img.Architecture)
	path, ok := caps.QEMUUser[img.Architecture]
	if !ok || path == "" {
		return Plan{}, errdefs.InvalidParameterf("%s: the static emulator %s was not found; install qemu-user-static (apt-get install qemu-user-static)", prefix, bin)
	}
	return Plan{Kind: QEMUUser, Arch: img.Architecture, EmulatorPath: path, Interpreter: bin}, nil
}

// FindQEMUUser looks up the static qemu-user emulators for every supported
// architecture other than host's.
func FindQEMUUser(host platform.Platform, lookPath func(string) (string, error)) map[string]string {
	out := map[string]string{}
	for _, p := range platform.Supported {
		if p.Architecture == host.Architecture {
			continue
		}
		if path, err := lookPath(QEMUBinary(p.Architecture)); err == nil {
			out[p.Architecture] = path
		}
	}
	return out
}
