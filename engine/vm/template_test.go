package vm

import (
	"os"
	"path/filepath"
	"testing"
)

// A spec's shares fit a template when there are at most as many as the
// driver's slots and share k carries slot k's tag; the shape then has all
// the slots, so one template serves every container with shares.
func TestShapeOfShares(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "root")
	if err := os.WriteFile(disk, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := func(tags ...string) Spec {
		s := Spec{Kernel: "k", Initramfs: "i", MemoryMiB: 512, CPUs: 1, Disks: []Disk{{Path: disk, ReadOnly: true}}}
		for _, tag := range tags {
			s.Shares = append(s.Shares, Share{Tag: tag, HostPath: dir})
		}
		return s
	}
	for _, c := range []struct {
		name   string
		spec   Spec
		slots  int
		ok     bool
		shares int
	}{
		{"no shares", spec(), 4, true, 0},
		{"no shares, no slots", spec(), 0, true, 0},
		{"one share, no slots", spec(ShareSlotTag(0)), 0, false, 0},
		{"two shares in their slots", spec(ShareSlotTag(0), ShareSlotTag(1)), 4, true, 4},
		{"a share in another slot", spec(ShareSlotTag(1)), 4, false, 0},
		{"a share of another tag", spec("data"), 4, false, 0},
		{"more shares than slots", spec(ShareSlotTag(0), ShareSlotTag(1), ShareSlotTag(2)), 2, false, 0},
	} {
		shape, ok := ShapeOf(c.spec, c.slots)
		if ok != c.ok || (ok && shape.Shares != c.shares) {
			t.Errorf("%s: ok %v, %d share slots; want %v, %d", c.name, ok, shape.Shares, c.ok, c.shares)
		}
	}
}
