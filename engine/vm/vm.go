// Package vm is the boundary between the engine and the hypervisors. A Driver
// boots a Linux microVM from a Spec and hands back a Machine. Drivers know
// nothing of Docker: containers, images and the API live above this line.
package vm

import (
	"context"
	"net"
	"os"

	"github.com/pier-vm/pier/errdefs"
)

// Disk is a block device attached to the guest. Disks appear in the guest in
// the order given (/dev/vda, /dev/vdb, ...).
type Disk struct {
	Path     string
	ReadOnly bool
	// Serial, when set, is the disk's serial number as the guest sees it
	// (/sys/block/vdX/serial): a stable way to find a disk in the guest.
	Serial string
}

// Share is a host directory exported to the guest over virtio-fs under Tag.
type Share struct {
	Tag      string
	HostPath string
	ReadOnly bool
	// Rosetta asks the vz driver for Apple's Rosetta directory share instead
	// of HostPath (HostPath is then empty). Other drivers refuse it.
	Rosetta bool
}

// NIC is a network interface of the guest, plugged into a virtual switch
// that lives outside the VM process (engine/vnet). The driver calls Attach
// once per boot with the socket kind it needs (datagram: one Ethernet
// frame per datagram, as Virtualization.framework's file-handle attachment
// wants; stream: frames prefixed by a 4-byte big-endian length, QEMU's
// socket netdev), hands the file to the VM process and closes its copy.
type NIC struct {
	// MAC is the interface's address ("02:42:ac:11:00:02"); the guest finds
	// the interface by it.
	MAC string
	// MTU is the interface's MTU as the guest sets it (0: 1500); drivers
	// that must size the attachment too (vz) use it.
	MTU    int
	Attach func(datagram bool) (*os.File, error) `json:"-"`
}

// Spec describes one VM.
type Spec struct {
	// ID names the VM; it is unique among running VMs.
	ID string
	// StateDir is a directory owned by this VM: the driver keeps its sockets,
	// pid file and helper-process state there.
	StateDir string
	// Kernel is an uncompressed kernel (vmlinux on x86-64, Image on arm64).
	Kernel string
	// Initramfs is a newc cpio archive holding the guest init.
	Initramfs string
	// Cmdline holds extra kernel arguments; the driver adds its own console
	// and platform arguments.
	Cmdline string
	// MemoryMiB and CPUs size the VM.
	MemoryMiB int
	CPUs      int
	Disks     []Disk
	Shares    []Share
	NICs      []NIC
	// ConsoleLog is the file the guest's serial console is written to.
	ConsoleLog string
}

// Machine is a booted VM.
type Machine interface {
	// ID is the Spec's ID.
	ID() string
	// Pid is the host process id of the VM process (QEMU, or the vz shim).
	Pid() int
	// DialAgent connects to the guest agent's channel: one byte stream
	// (virtio-serial port named "agent", or vsock). It may be called again
	// after the previous connection closed.
	DialAgent(ctx context.Context) (net.Conn, error)
	// Done is closed when the VM process has exited.
	Done() <-chan struct{}
	// Err returns why the VM process exited, once Done is closed (nil for a
	// clean guest power-off).
	Err() error
	// Kill ends the VM at once and releases its host resources. It is safe to
	// call more than once and after the VM exited.
	Kill() error
}

// Driver boots VMs.
type Driver interface {
	// Name is the driver's name ("qemu", "vz").
	Name() string
	// Accel says how guests are run ("kvm", "tcg", "hvf").
	Accel() string
	// Start boots a VM. It returns once the VM process runs; the guest may
	// still be booting.
	Start(ctx context.Context, spec Spec) (Machine, error)
}

// CheckNICs refuses NICs a driver cannot plug in: each needs a valid MAC
// address and a switch to attach to.
func CheckNICs(id string, nics []NIC) error {
	for i, n := range nics {
		if _, err := net.ParseMAC(n.MAC); err != nil {
			return errdefs.InvalidParameterf("vm %s: nic %d: bad MAC address %q", id, i, n.MAC)
		}
		if n.Attach == nil {
			return errdefs.InvalidParameterf("vm %s: nic %d has no switch to attach to", id, i)
		}
	}
	return nil
}

// Pauser is a Machine whose vCPUs can be stopped and resumed (docker
// pause): the guest's memory, devices and connections stay as they are,
// its clock stands still meanwhile. Drivers whose machines cannot pause
// do not implement it.
type Pauser interface {
	// Pause stops the vCPUs and returns once they are stopped.
	Pause(ctx context.Context) error
	// Resume lets the vCPUs run again.
	Resume(ctx context.Context) error
}

// LeftoverKiller is a driver whose VM processes can outlive a daemon that
// was killed, and which can end them from a VM's state directory (QEMU:
// by pid file). The daemon calls it for every state directory at start.
type LeftoverKiller interface {
	KillLeftovers(ctx context.Context, stateDir string) (int, error)
}

// Adopter is a driver whose VMs outlive the daemon and which can take one
// over again from its state directory, as it was left by a daemon that
// stopped or was killed: the machine is then the VM's as if Start had
// returned it (Done, Kill, DialAgent; Err is nil however it ends). It
// returns a NotFound error when no VM runs there any more.
type Adopter interface {
	Adopt(ctx context.Context, id, stateDir string) (Machine, error)
}
