package vmruntime

import (
	"fmt"
	"sync"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// emulatorDiskSerial is the serial of the read-only disk that carries a
// qemu-user emulator into the guest.
const emulatorDiskSerial = "pier-emul"

// emulators brings a foreign image's emulator into its VM: a qemu-user
// emulator on a small read-only ext4 disk built once per architecture and
// emulator (a disk, unlike a virtio-fs share, leaves the VM a template
// shape, so emulated containers are cloned too), Rosetta as the vz
// driver's directory share.
type emulators struct {
	dir    string // <data root>/emul
	caps   emulation.Capabilities
	native platform.Platform // what the guests run natively (set by New)
	mu     sync.Mutex        // one disk build at a time
}

// plan decides the emulation for an image platform; it fails with an
// invalid-parameter error that says what to install.
func (e *emulators) plan(img platform.Platform) (emulation.Plan, error) {
	return emulation.Decide(e.native, img, e.caps)
}

// emulatorDevice is how the emulator reaches the VM: exactly one of Share
// and Disk is set.
type emulatorDevice struct {
	Share *vm.Share
	Disk  *vm.Disk
}

// attach returns the device that carries p's emulator and the guest's
// emulation spec, for a container whose main process is args (systemd
// mode, see emulation.SystemdMode).
func (e *emulators) attach(p emulation.Plan, args []string) (emulatorDevice, *proto.EmulationSpec, error) {
	spec := &proto.EmulationSpec{Interpreter: p.Interpreter, Arch: p.Arch, Systemd: emulation.SystemdMode(args)}
	switch p.Kind {
	case emulation.Rosetta:
		spec.ShareTag, spec.Flags = emulation.ShareTag, proto.BinfmtFlagsRosetta
		return emulatorDevice{Share: &vm.Share{Tag: emulation.ShareTag, Rosetta: true, ReadOnly: true}}, spec, nil
	case emulation.QEMUUser:
		path, err := e.disk(p)
		if err != nil {
			return emulatorDevice{}, nil, err
		}
		spec.Device, spec.Flags = "serial:"+emulatorDiskSerial, proto.BinfmtFlagsQEMU
		return emulatorDevice{Disk: &vm.Disk{Path: path, ReadOnly: true, Serial: emulatorDiskSerial}}, spec, nil
	}
	return emulatorDevice{}, nil, fmt.Errorf("no way to bring a %q emulator into the VM", p.Kind)
}
