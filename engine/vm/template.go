package vm

import (
	"context"
	"fmt"
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
	// Shares is the number of share slots (0 or the driver's
	// ShareSlots): slot k carries the tag ShareSlotTag(k), and a clone's
	// share k is served in slot k (the unused ones by an empty
	// placeholder).
	Shares int
}

// ShareSlotTag is the tag of share slot k. A Spec's shares can be cloned
// only when share k is tagged ShareSlotTag(k): the guest learnt the
// slots' tags when the template booted.
func ShareSlotTag(k int) string { return fmt.Sprintf("pier-m%d", k) }

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
// from, given that the driver's templates carry shareSlots share slots,
// or false when it has none: more shares than slots, a share not tagged
// by its slot, or a read-only disk larger than a slot. A spec with shares
// gets a shape with all shareSlots slots, so that one template serves
// every container with up to that many shares.
func ShapeOf(spec Spec, shareSlots int) (Shape, bool) {
	if len(spec.Shares) > shareSlots {
		return Shape{}, false
	}
	shape := Shape{Kernel: spec.Kernel, Initramfs: spec.Initramfs, Cmdline: spec.Cmdline,
		MemoryMiB: spec.MemoryMiB, CPUs: spec.CPUs, NICs: len(spec.NICs)}
	for k, s := range spec.Shares {
		if s.Tag != ShareSlotTag(k) || s.Rosetta {
			return Shape{}, false
		}
	}
	if len(spec.Shares) > 0 {
		shape.Shares = shareSlots
	}
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
	// ShareSlots is how many share slots the driver's templates of a VM
	// with shares carry (0: a VM with shares boots cold).
	ShareSlots() int
	// SaveTemplate boots a VM of shape in dir (which it owns), waits
	// until its guest is ready for a container and saves it there.
	SaveTemplate(ctx context.Context, shape Shape, dir string) error
	// StartClone starts spec's VM from the template saved in dir. It
	// returns once the VM runs the restored guest; an error means the
	// template did not restore (and nothing is left running).
	StartClone(ctx context.Context, spec Spec, dir string) (Machine, error)
}
