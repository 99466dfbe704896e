package template

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vm"
)

// fakeTemplater records what the Cache asks of a driver.
type fakeTemplater struct {
	saves, clones, colds atomic.Int32
	saveErr, cloneErr    error
	saveDelay            time.Duration
	key                  string
	shareSlots           int
	savedShapes          []vm.Shape
	mu                   sync.Mutex
}

type fakeMachine struct{ vm.Machine }

func (f *fakeTemplater) Name() string  { return "fake" }
func (f *fakeTemplater) Accel() string { return "tcg" }
func (f *fakeTemplater) Start(ctx context.Context, spec vm.Spec) (vm.Machine, error) {
	f.colds.Add(1)
	return fakeMachine{}, nil
}
func (f *fakeTemplater) TemplateKey(shape vm.Shape) (string, error) {
	if f.key != "" {
		return f.key, nil
	}
	return "k1", nil
}
func (f *fakeTemplater) ShareSlots() int { return f.shareSlots }
func (f *fakeTemplater) SaveTemplate(ctx context.Context, shape vm.Shape, dir string) error {
	f.saves.Add(1)
	f.mu.Lock()
	f.savedShapes = append(f.savedShapes, shape)
	f.mu.Unlock()
	time.Sleep(f.saveDelay)
	if f.saveErr != nil {
		return f.saveErr
	}
	return os.WriteFile(filepath.Join(dir, "state"), []byte("s"), 0o600)
}
func (f *fakeTemplater) StartClone(ctx context.Context, spec vm.Spec, dir string) (vm.Machine, error) {
	f.clones.Add(1)
	if _, err := os.Stat(filepath.Join(dir, "state")); err != nil {
		return nil, err
	}
	if f.cloneErr != nil {
		return nil, f.cloneErr
	}
	return fakeMachine{}, nil
}

func testSpec(t *testing.T, shares bool) vm.Spec {
	dir := t.TempDir()
	for _, n := range []string{"k", "i", "root", "rw"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := vm.Spec{ID: "c1", StateDir: dir, Kernel: filepath.Join(dir, "k"), Initramfs: filepath.Join(dir, "i"),
		Disks: []vm.Disk{{Path: filepath.Join(dir, "root"), ReadOnly: true}, {Path: filepath.Join(dir, "rw")}}}
	if shares {
		s.Shares = []vm.Share{{Tag: "v", HostPath: dir}}
	}
	return s
}

func TestConcurrentStartsShareOneTemplate(t *testing.T) {
	drv := &fakeTemplater{saveDelay: 50 * time.Millisecond}
	c := New(drv, t.TempDir(), nil)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Start(context.Background(), testSpec(t, false)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if drv.saves.Load() != 1 || drv.clones.Load() != 8 || drv.colds.Load() != 0 {
		t.Fatalf("saves %d clones %d colds %d; want 1 8 0", drv.saves.Load(), drv.clones.Load(), drv.colds.Load())
	}
	if got := keys(c.root); len(got) != 1 || got[0] != "k1" {
		t.Fatalf("templates %v", got)
	}
	if s := c.Stats(); s.Cloned != 8 || s.Cold != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestSharesBootCold(t *testing.T) {
	drv := &fakeTemplater{}
	c := New(drv, t.TempDir(), nil)
	if _, err := c.Start(context.Background(), testSpec(t, true)); err != nil {
		t.Fatal(err)
	}
	if drv.saves.Load() != 0 || drv.colds.Load() != 1 {
		t.Fatalf("saves %d colds %d", drv.saves.Load(), drv.colds.Load())
	}
}

func TestSharesInSlotsAreCloned(t *testing.T) {
	drv := &fakeTemplater{shareSlots: 2}
	c := New(drv, t.TempDir(), nil)
	slotted := func(n int) vm.Spec {
		s := testSpec(t, false)
		for k := range n {
			s.Shares = append(s.Shares, vm.Share{Tag: vm.ShareSlotTag(k), HostPath: s.StateDir})
		}
		return s
	}
	for _, s := range []vm.Spec{slotted(1), slotted(2)} {
		if _, err := c.Start(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if drv.clones.Load() != 2 || drv.colds.Load() != 0 {
		t.Fatalf("clones %d colds %d; want 2 0", drv.clones.Load(), drv.colds.Load())
	}
	if len(drv.savedShapes) != 1 || drv.savedShapes[0].Shares != 2 {
		t.Fatalf("saved shapes %+v; want one with 2 share slots", drv.savedShapes)
	}
	// More shares than slots, or a share not tagged by its slot: cold.
	for _, s := range []vm.Spec{slotted(3), testSpec(t, true)} {
		if _, err := c.Start(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if drv.clones.Load() != 2 || drv.colds.Load() != 2 {
		t.Fatalf("clones %d colds %d; want 2 2", drv.clones.Load(), drv.colds.Load())
	}
}

func TestTemplateThatFailsToRestoreIsDroppedAndTheStartBootsCold(t *testing.T) {
	drv := &fakeTemplater{cloneErr: errors.New("load of migration failed")}
	c := New(drv, t.TempDir(), nil)
	if _, err := c.Start(context.Background(), testSpec(t, false)); err != nil {
		t.Fatalf("start failed instead of booting cold: %v", err)
	}
	if drv.colds.Load() != 1 || len(keys(c.root)) != 0 {
		t.Fatalf("colds %d templates %v", drv.colds.Load(), keys(c.root))
	}
	// The shape now boots cold without trying again at once.
	if _, err := c.Start(context.Background(), testSpec(t, false)); err != nil {
		t.Fatal(err)
	}
	if drv.saves.Load() != 1 || drv.colds.Load() != 2 {
		t.Fatalf("saves %d colds %d; want 1 2", drv.saves.Load(), drv.colds.Load())
	}
}

func TestTemplateThatCannotBeMadeBootsColdAndLeavesNothing(t *testing.T) {
	drv := &fakeTemplater{saveErr: errors.New("guest never ready")}
	root := t.TempDir()
	c := New(drv, root, nil)
	if _, err := c.Start(context.Background(), testSpec(t, false)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if drv.colds.Load() != 1 || len(entries) != 0 {
		t.Fatalf("colds %d, left %v", drv.colds.Load(), entries)
	}
}

func TestSweepRemovesStaleAndHalfMadeTemplates(t *testing.T) {
	drv := &fakeTemplater{}
	root := t.TempDir()
	c := New(drv, root, nil)
	if err := c.Prepare(context.Background(), vm.Shape{MemoryMiB: 512}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(root, ".new-k1-123"), 0o700)
	os.MkdirAll(filepath.Join(root, "garbage"), 0o700)
	c.Sweep()
	if got := keys(root); len(got) != 1 || got[0] != "k1" {
		t.Fatalf("after sweep: %v", got)
	}
	if _, err := os.Stat(filepath.Join(root, ".new-k1-123")); err == nil {
		t.Fatal("half-made template left")
	}
	// A new QEMU (another key for the same shape) makes the template stale.
	drv.key = "k2"
	c.Sweep()
	if got := keys(root); len(got) != 0 {
		t.Fatalf("stale template kept: %v", got)
	}
}

// keys lists the keys of the complete templates under root.
func keys(root string) []string {
	var out []string
	for _, i := range List(root) {
		out = append(out, i.Key)
	}
	return out
}
