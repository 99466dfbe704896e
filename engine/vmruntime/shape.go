package vmruntime

import (
	"path/filepath"

	"github.com/pier-vm/pier/engine/vm"
)

// CommonShape is the template shape of most containers: default memory and
// CPUs, the image's root disk and a writable disk of the default size, and
// one network interface.
func (r *Runtime) CommonShape() vm.Shape {
	// Absolute, as vm.Normalize makes a Spec's paths.
	kernel, _ := filepath.Abs(r.assets.Kernel)
	initramfs, _ := filepath.Abs(r.assets.Initramfs)
	return vm.Shape{
		Kernel: kernel, Initramfs: initramfs, Cmdline: r.extraCmdline,
		MemoryMiB: vm.DefaultMemoryMiB, CPUs: vm.DefaultCPUs,
		Disks: []vm.DiskSlot{
			{ReadOnly: true, Serial: rootDiskSerial, Size: vm.ReadOnlySlotSize},
			{Serial: writableDiskSerial, Size: r.diskSize},
		},
		NICs: 1,
	}
}
