// Package build is pier's image builder, as dockerd embeds BuildKit: one
// builder VM per daemon, started on first use, whose main process is a
// BuildKit daemon (guest/builder, `pier-buildkitd serve`) with runc for the
// RUN steps inside that VM. pierd reaches it only through the runtime
// interfaces the containers use: the VM is a sandbox whose root file system
// is the builder root (a tar made by `make builder`, turned into an ext4
// disk here), its gRPC API is reached through an exec of `pier-dial-stdio`
// per connection, and images travel between pier's image store
// and the builder as docker-save tarballs through the sandbox's file
// operations, asked for in JSON lines on the main process's stdio
// (guest/proto/builder.go).
//
// The builder is not a container: it is in no container list, its image in
// no image list, and it goes away with pierd (its writable disk, which holds
// BuildKit's cache, stays in <data-root>/builder).
package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

// The builder daemon's paths in the builder root (scripts/builder-root.sh).
const (
	daemonPath = "/usr/local/bin/pier-buildkitd"
	// dialPath joins an exec's stdio to BuildKit's socket (a small binary:
	// BuildKit's own takes most of a second to start under TCG).
	dialPath = "/usr/local/bin/pier-dial-stdio"
)

// Config says what the builder needs.
type Config struct {
	// Runtime starts the builder's VM.
	Runtime engine.Runtime
	// Images is pier's image store: builds start from its images and end
	// in it.
	Images *image.Service
	// RootTar is the builder's root file system as a tar (missing: pier has
	// no builder, and says so).
	RootTar string
	// Dir holds the builder's disks and state (<data-root>/builder).
	Dir string
	// MemoryMiB and CPUs size the builder VM (defaults 2048 and 2).
	MemoryMiB int
	CPUs      int
	// IdleTimeout stops the builder VM after that long without a use
	// (0: DefaultIdleTimeout; negative: never).
	IdleTimeout time.Duration
	// Network gives the builder VM its network (the default bridge, as
	// RUN steps have under dockerd); nil: loopback only.
	Network func(owner string) (*engine.NetworkConfig, func(), error)
	Logger  *slog.Logger
}

// Builder runs the builder VM and connects clients to its BuildKit.
type Builder struct {
	cfg Config
	log *slog.Logger

	mu  sync.Mutex
	cur *instance // the running builder VM, nil before the first use
	ctl *client.Client

	use usage
}

// New returns a builder; nothing starts before the first build.
func New(cfg Config) *Builder {
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 2048
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	return &Builder{cfg: cfg, log: cfg.Logger.With("part", "builder")}
}

// Available says whether this pierd has a builder (its root file system
// was built).
func (b *Builder) Available() bool {
	_, err := os.Stat(b.cfg.RootTar)
	return err == nil
}

// errNoBuilder is what a build gets when pier was built without its
// builder root.
func (b *Builder) errNoBuilder() error {
	return errdefs.NotImplemented(fmt.Errorf("pier has no builder: %s is missing (`make builder` makes it)", b.cfg.RootTar))
}

// detachLocked takes the running builder VM and pierd's shared client
// off b (b.mu held) and returns what ends them: the client goes with the
// VM, so that nothing reconnects (and starts the VM again) before the
// next use.
func (b *Builder) detachLocked() (end func()) {
	cur, ctl := b.cur, b.ctl
	b.cur, b.ctl = nil, nil
	return func() {
		if ctl != nil {
			ctl.Close()
		}
		if cur != nil {
			cur.stop()
		}
	}
}

// Close stops the builder VM, if it runs.
func (b *Builder) Close() {
	b.mu.Lock()
	end := b.detachLocked()
	b.mu.Unlock()
	end()
}

// running returns the builder VM, starting it when it does not run.
func (b *Builder) running(ctx context.Context) (*instance, error) {
	if !b.Available() {
		return nil, b.errNoBuilder()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur != nil && !b.cur.gone() {
		return b.cur, nil
	}
	if b.cur != nil {
		b.log.Warn("the builder VM ended; starting another", "err", b.cur.endErr())
		b.cur.stop()
		b.cur = nil
	}
	inst, err := b.start(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting the builder: %w", err)
	}
	b.cur = inst
	go b.watchIdle(inst)
	return inst, nil
}

// sandboxID names the builder's sandbox: 64 hex digits like a container
// ID, never one.
var sandboxID = func() string {
	sum := sha256.Sum256([]byte("pier builder"))
	return hex.EncodeToString(sum[:])
}()

// statePath is where things of the builder live.
func (b *Builder) statePath(elem ...string) string {
	return filepath.Join(append([]string{b.cfg.Dir}, elem...)...)
}

var errBuilderGone = errors.New("the builder VM is gone")
