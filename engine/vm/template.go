package vm

import (
	"context"
	"os"
)

// Shape is what a template VM fixes and every clone of it shares: the
// guest (kernel, initramfs, command line), its size and its device slots.
// A clone brings its own disks, NICs, agent channel and console, which
// must fit the slots.
type Shape struct {
	Kernel    string
	Initramfs string
	Cmdline   string
	MemoryMiB int
	CPUs      int
	Disks     []DiskSlot
	// NICs is the number of network interfaces.
	NICs int
}

// DiskSlot is one disk of a Shape. The guest sees the template's disk
// size, so a clone's read-only disk must be at most Size (its filesystem
// never reaches past its own end) and a writable disk exactly Size (the
// guest grows its filesystem to the size it sees).
type DiskSlot struct {
	ReadOnly bool
	Serial   string
	Size     int64
}

// ReadOnlySlotSize is the size of a read-only disk slot: image root disks
// up to it fit one template (the slot's placeholder is a sparse file).
const ReadOnlySlotSize = 64 << 30

// ShapeOf returns the template shape spec (normalised) can be cloned
// from, or false when it has none: a VM with shares (virtio-fs cannot be
// carried by a template) or a read-only disk larger than a slot.
func ShapeOf(spec Spec) (Shape, bool) {
	if len(spec.Shares) > 0 {
		return Shape{}, false
	}
	shape := Shape{Kernel: spec.Kernel, Initramfs: spec.Initramfs, Cmdline: spec.Cmdline,
		MemoryMiB: spec.MemoryMiB, CPUs: spec.CPUs, NICs: len(spec.NICs)}
	for _, d := range spec.Disks {
		fi, err := os.Stat(d.Path)
		if err != nil {
			return Shape{}, false
		}
		size := fi.Size()
		if d.ReadOnly {
			if size > ReadOnlySlotSize {
				return Shape{}, false
			}
			size = ReadOnlySlotSize
		}
		shape.Disks = append(shape.Disks, DiskSlot{ReadOnly: d.ReadOnly, Serial: d.Serial, Size: size})
	}
	return shape, true
}

// Templater is a Driver that can save a booted VM as a template and start
// clones of it (engine/vm/template keeps the templates).
type Templater interface {
	Driver
	// TemplateKey names the template of shape: templates with equal keys
	// are interchangeable. It covers everything a saved VM depends on
	// (hypervisor version, acceleration, kernel and initramfs content,
	// the device set).
	TemplateKey(shape Shape) (string, error)
	// SaveTemplate boots a VM of shape in dir (which it owns), waits
	// until its guest is ready for a container and saves it there.
	SaveTemplate(ctx context.Context, shape Shape, dir string) error
	// StartClone starts spec's VM from the template saved in dir. It
	// returns once the VM runs the restored guest; an error means the
	// template did not restore (and nothing is left running).
	StartClone(ctx context.Context, spec Spec, dir string) (Machine, error)
}
