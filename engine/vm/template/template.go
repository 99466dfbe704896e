// Package template starts VMs from templates: a Cache wraps a driver that
// can save and clone VMs (vm.Templater) and is itself a vm.Driver. For a
// Spec with a template shape (vm.ShapeOf) it boots one template VM per
// shape, the first time the shape is asked for (or at Prepare), keeps it
// under its directory, and starts every such VM as a clone of it; a Spec
// without a shape, a template that cannot be made and a clone that does
// not restore all fall back to the driver's cold boot: a log line, never
// a failed start. A template that failed to restore is dropped and made
// again on the next start.
package template

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/sys/atomicwriter"
	"golang.org/x/sync/singleflight"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

var _ vm.Driver = (*Cache)(nil)

// metaName is the file that marks a template directory complete.
const metaName = "template.json"

// retryAfter is how long a shape whose template could not be made boots
// cold before the next attempt.
const retryAfter = 10 * time.Minute

// buildTimeout bounds a template's boot and save.
const buildTimeout = 3 * time.Minute

// Cache keeps templates under its root and starts VMs from them.
type Cache struct {
	drv    vm.Templater
	root   string
	log    *slog.Logger
	flight singleflight.Group

	// base is the context of template builds; Close cancels it and waits
	// for builds to end (their QEMU must not outlive the daemon).
	base   context.Context
	cancel context.CancelFunc
	builds sync.WaitGroup

	mu     sync.Mutex
	failed map[string]time.Time // key -> when making it last failed
	stats  Stats
}

// Stats counts how VMs were started since the Cache was made.
type Stats struct {
	Cloned, Cold, Fallbacks int
}

// meta is template.json.
type meta struct {
	Key     string    `json:"key"`
	Shape   vm.Shape  `json:"shape"`
	Created time.Time `json:"created"`
}

// New returns a Cache over drv keeping its templates under root.
func New(drv vm.Templater, root string, log *slog.Logger) *Cache {
	if log == nil {
		log = slog.Default()
	}
	base, cancel := context.WithCancel(context.Background())
	return &Cache{drv: drv, root: root, log: log, failed: map[string]time.Time{}, base: base, cancel: cancel}
}

// Close stops template builds in flight (their VMs are killed) and waits
// for them; later starts boot cold.
func (c *Cache) Close() {
	c.mu.Lock()
	c.cancel()
	c.mu.Unlock()
	c.builds.Wait()
}

// Name is the driver's name.
func (c *Cache) Name() string { return c.drv.Name() }

// Accel is the driver's acceleration.
func (c *Cache) Accel() string { return c.drv.Accel() }

// Adopt takes over a VM a previous daemon left running, through the
// driver (a clone is a VM like any other once it runs).
func (c *Cache) Adopt(ctx context.Context, id, stateDir string) (vm.Machine, error) {
	a, ok := c.drv.(vm.Adopter)
	if !ok {
		return nil, errdefs.NotImplemented(fmt.Errorf("the %s driver cannot take over running VMs", c.drv.Name()))
	}
	return a.Adopt(ctx, id, stateDir)
}

// Start starts spec's VM from its shape's template when it has one (made
// now if missing), else with a cold boot.
func (c *Cache) Start(ctx context.Context, spec vm.Spec) (vm.Machine, error) {
	norm, err := vm.Normalize(spec)
	if err != nil {
		return nil, err
	}
	shape, ok := vm.ShapeOf(norm, c.drv.ShareSlots())
	if !ok {
		return c.cold(ctx, spec)
	}
	dir, key, err := c.ensure(ctx, shape)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.log.Warn("vm template unavailable, booting cold", "vm", spec.ID, "err", err)
		return c.cold(ctx, spec)
	}
	m, err := c.drv.StartClone(ctx, norm, dir)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		c.log.Warn("vm template did not restore: dropped, booting cold", "vm", spec.ID, "template", key, "err", err)
		c.drop(key)
		c.count(func(s *Stats) { s.Fallbacks++ })
		return c.cold(ctx, spec)
	}
	c.count(func(s *Stats) { s.Cloned++ })
	return m, nil
}

func (c *Cache) cold(ctx context.Context, spec vm.Spec) (vm.Machine, error) {
	m, err := c.drv.Start(ctx, spec)
	if err == nil {
		c.count(func(s *Stats) { s.Cold++ })
	}
	return m, err
}

func (c *Cache) count(f func(*Stats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

// Stats says how VMs were started so far.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Prepare makes shape's template unless it exists (pierd calls it at
// start, in the background, for the common shape).
func (c *Cache) Prepare(ctx context.Context, shape vm.Shape) error {
	_, _, err := c.ensure(ctx, shape)
	return err
}

// ensure returns the directory of shape's template, making it when missing.
// Concurrent callers for one shape share one build.
func (c *Cache) ensure(ctx context.Context, shape vm.Shape) (dir, key string, err error) {
	key, err = c.drv.TemplateKey(shape)
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(c.root, key)
	if c.complete(dir, key) {
		return dir, key, nil
	}
	c.mu.Lock()
	when, failed := c.failed[key]
	c.mu.Unlock()
	if failed && time.Since(when) < retryAfter {
		return "", key, fmt.Errorf("making template %s failed %s ago", key, time.Since(when).Round(time.Second))
	}
	ch := c.flight.DoChan(key, func() (any, error) {
		c.mu.Lock()
		if c.base.Err() != nil {
			c.mu.Unlock()
			return nil, errors.New("template cache closed")
		}
		c.builds.Add(1)
		c.mu.Unlock()
		defer c.builds.Done()
		// The build outlives the caller that started it: others wait too.
		bctx, cancel := context.WithTimeout(c.base, buildTimeout)
		defer cancel()
		return nil, c.build(bctx, shape, key, dir)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", key, r.Err
		}
		return dir, key, nil
	case <-ctx.Done():
		return "", key, ctx.Err()
	}
}

// complete says whether dir holds a finished template of key.
func (c *Cache) complete(dir, key string) bool {
	b, err := os.ReadFile(filepath.Join(dir, metaName))
	if err != nil {
		return false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil || m.Key != key {
		return false
	}
	return true
}

// build makes the template of key in a fresh directory beside dir and
// renames it into place, so a half-made template is never used; a
// directory left by a crash is replaced.
func (c *Cache) build(ctx context.Context, shape vm.Shape, key, dir string) error {
	if c.complete(dir, key) {
		return nil
	}
	start := time.Now()
	if err := os.MkdirAll(c.root, 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(c.root, ".new-"+key+"-")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(tmp)
		c.mu.Lock()
		c.failed[key] = time.Now()
		c.mu.Unlock()
		return fmt.Errorf("making template %s: %w", key, err)
	}
	if err := c.drv.SaveTemplate(ctx, shape, tmp); err != nil {
		return fail(err)
	}
	b, err := json.MarshalIndent(meta{Key: key, Shape: shape, Created: time.Now().UTC()}, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicwriter.WriteFile(filepath.Join(tmp, metaName), b, 0o600); err != nil {
		return fail(err)
	}
	// Clones of a dropped template may still map its RAM file: removing
	// it only unlinks the file, their mappings stay valid.
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fail(err)
	}
	c.mu.Lock()
	delete(c.failed, key)
	c.mu.Unlock()
	c.log.Info("vm template made", "template", key, "took", time.Since(start).Round(time.Millisecond), "memoryMiB", shape.MemoryMiB, "nics", shape.NICs)
	return nil
}

// drop removes a template that failed to restore; a start after
// retryAfter makes it again (until then its shape boots cold).
func (c *Cache) drop(key string) {
	c.mu.Lock()
	c.failed[key] = time.Now()
	c.mu.Unlock()
	dir := filepath.Join(c.root, key)
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.log.Warn("removing a vm template", "template", key, "err", err)
	}
}

// Sweep removes what a crash left under root (half-made templates) and
// every template that is no longer what its shape would get (made for
// another QEMU, acceleration, kernel or initramfs). pierd calls it at
// start, before any VM starts.
func (c *Cache) Sweep() {
	entries, err := os.ReadDir(c.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		dir := filepath.Join(c.root, e.Name())
		var m meta
		b, err := os.ReadFile(filepath.Join(dir, metaName))
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err == nil {
			var key string
			if key, err = c.drv.TemplateKey(m.Shape); err == nil && key == e.Name() && m.Key == key {
				continue
			}
		}
		c.log.Info("removing a stale vm template", "dir", dir)
		// A template being made when the previous daemon was killed
		// still has its QEMU.
		if k, ok := c.drv.(vm.LeftoverKiller); ok {
			if _, err := k.KillLeftovers(context.Background(), dir); err != nil {
				c.log.Error("ending a template VM left by the previous daemon", "dir", dir, "err", err)
			}
		}
		os.RemoveAll(dir)
	}
}

// Info describes one complete template.
type Info struct {
	Key     string
	Created time.Time
	Shape   vm.Shape
	// DiskBytes is the space its files take on disk.
	DiskBytes int64
}

// List describes the complete templates under root (pierd doctor).
func List(root string) []Info {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []Info
	for _, e := range entries {
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, metaName))
		var m meta
		if err != nil || json.Unmarshal(b, &m) != nil || m.Key != e.Name() {
			continue
		}
		out = append(out, Info{Key: m.Key, Created: m.Created, Shape: m.Shape, DiskBytes: diskBytes(dir)})
	}
	return out
}
