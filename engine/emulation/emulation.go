// Package emulation decides how a container of one architecture runs on a
// host of another: natively, with Apple's Rosetta (vz driver on Apple
// silicon), or with a static qemu-user emulator carried into the VM on a
// read-only disk (engine/vmruntime). Decide is a pure function of the host, the image and what the
// host offers, so every case has a table test; FindQEMUUser is the one
// look-up of the host, behind a seam.
package emulation

import (
	"fmt"
	"path"
	"slices"

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

// RosettaAvailability mirrors what Virtualization.framework reports
// (VZLinuxRosettaDirectoryShare.availability).
type RosettaAvailability int

// Rosetta availabilities.
const (
	RosettaUnsupported RosettaAvailability = iota // Intel Mac or macOS < 13
	RosettaNotInstalled
	RosettaInstalled
)

// Capabilities is what the host and its VM driver can offer.
type Capabilities struct {
	// Driver is the VM driver's name ("qemu", "vz").
	Driver string
	// Rosetta is only meaningful for the vz driver.
	Rosetta RosettaAvailability
	// QEMUUser maps an image architecture ("arm64") to the host path of
	// its static qemu-user emulator.
	QEMUUser map[string]string
}

// ShareTag is the virtio-fs tag Rosetta is shared under.
const ShareTag = "pier-emul"

// GuestMountDir is where the guest init mounts the emulator's disk or
// share before it switches into the container's root (guest/init's
// emulDir).
const GuestMountDir = "/pier/emul"

// rosettaBinary is the interpreter's name inside the Rosetta share.
const rosettaBinary = "rosetta"

// Plan is the decision for one container. The zero Plan runs natively.
type Plan struct {
	Kind Kind
	// Arch is the image's architecture.
	Arch string
	// EmulatorPath is the host path of the qemu-user binary.
	EmulatorPath string
	// ShareTag is the virtio-fs tag the emulator is shared under when it
	// comes as a share (Rosetta; the QEMU driver's qemu-user emulator
	// comes on a disk).
	ShareTag string
	// Interpreter is the emulator's file name inside the share or disk.
	Interpreter string
	// InterpreterPathInGuest is where the guest finds the interpreter,
	// the path its binfmt_misc rule names.
	InterpreterPathInGuest string
}

// Decide picks the emulation for an image of platform img on host, or
// refuses with an invalid-parameter error that says why and what to do.
func Decide(host, img platform.Platform, caps Capabilities) (Plan, error) {
	for _, p := range []platform.Platform{host, img} {
		if !slices.Contains(platform.Supported, p) {
			return Plan{}, errdefs.InvalidParameterf("unsupported platform %q", p)
		}
	}
	if !img.NeedsEmulation(host) {
		return Plan{Kind: None}, nil
	}
	refuse := func(format string, a ...any) (Plan, error) {
		return Plan{}, errdefs.InvalidParameterf("cannot run %s/%s image on %s/%s host: %s",
			img.OS, img.Architecture, host.OS, host.Architecture, fmt.Sprintf(format, a...))
	}
	if caps.Driver == "vz" {
		if host.Architecture != "arm64" {
			return refuse("emulating %s on an Intel Mac is not supported", img.Architecture)
		}
		switch caps.Rosetta {
		case RosettaInstalled:
			return plan(Rosetta, img.Architecture, "", rosettaBinary), nil
		case RosettaNotInstalled:
			return refuse("Rosetta is not installed: run softwareupdate --install-rosetta --agree-to-license")
		default:
			return refuse("Rosetta is not available: it needs Apple silicon and macOS 13 or later")
		}
	}
	bin := QEMUBinary(img.Architecture)
	emulator := caps.QEMUUser[img.Architecture]
	if emulator == "" {
		return refuse("the static emulator %s was not found; install qemu-user-static (apt-get install qemu-user-static)", bin)
	}
	return plan(QEMUUser, img.Architecture, emulator, bin), nil
}

func plan(k Kind, arch, emulator, interpreter string) Plan {
	return Plan{
		Kind: k, Arch: arch, EmulatorPath: emulator, ShareTag: ShareTag,
		Interpreter: interpreter, InterpreterPathInGuest: path.Join(GuestMountDir, interpreter),
	}
}
