package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/internal/atomicfile"
)

// readyTimeout bounds the wait for the builder daemon's ready line after
// its VM booted (BuildKit opens its databases and probes runc).
const readyTimeout = 2 * time.Minute

// instance is one run of the builder VM.
type instance struct {
	sb     engine.Sandbox
	link   *link
	marker string // removed after a clean stop

	done    chan struct{} // closed when the main process ended
	doneErr error
}

func (i *instance) gone() bool {
	select {
	case <-i.done:
		return true
	default:
		return false
	}
}

func (i *instance) endErr() error {
	if i.gone() {
		return i.doneErr
	}
	return nil
}

// stopTimeout bounds a graceful stop of the builder VM.
const stopTimeout = 20 * time.Second

func (i *instance) stop() {
	if stopSandbox(i.sb) {
		i.markClean()
	}
	i.link.close()
}

// stopSandbox ends the builder daemon with SIGTERM, so that BuildKit
// closes its databases and the guest flushes the writable disk before it
// powers off, and kills the VM only if that takes longer than
// stopTimeout. A kill alone loses what the guest had not written yet: the
// cache's records would then name snapshots whose files are empty.
// It says whether the VM ended by itself (its disk is whole).
func stopSandbox(sb engine.Sandbox) (clean bool) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := sb.Signal(ctx, syscall.SIGTERM); err == nil {
		select {
		case <-sb.Done():
			clean = true
		case <-ctx.Done():
		}
	}
	_ = sb.Kill()
	return clean
}

// The "unclean" marker is there while a builder VM runs and goes when it
// stopped cleanly. A builder VM that ended otherwise (killed, crashed, a
// host crash) may have left the cache's records naming half-written
// snapshots: its writable disk is then dropped at the next start, and
// the cache with it.
func (b *Builder) uncleanMarker() string { return b.statePath("unclean") }

func (i *instance) markClean() { os.Remove(i.marker) }

// start boots the builder VM and waits for its daemon's ready line.
func (b *Builder) start(ctx context.Context) (*instance, error) {
	for _, d := range []string{b.cfg.Dir, b.statePath("state")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	b.stopLeftover(ctx)
	if _, err := os.Stat(b.uncleanMarker()); err == nil {
		b.log.Warn("the last builder VM did not stop cleanly: its build cache is dropped")
		if err := os.Remove(b.statePath(cacheDiskName)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if err := os.WriteFile(b.uncleanMarker(), nil, 0o600); err != nil {
		return nil, err
	}
	root, err := b.rootDisk()
	if err != nil {
		return nil, fmt.Errorf("the builder's root disk: %w", err)
	}
	daemonLog, err := os.Create(b.statePath("buildkitd.log"))
	if err != nil {
		return nil, err
	}
	var netCfg *engine.NetworkConfig
	release := func() {}
	if b.cfg.Network != nil {
		if netCfg, release, err = b.cfg.Network(sandboxID); err != nil {
			daemonLog.Close()
			return nil, fmt.Errorf("the builder's network: %w", err)
		}
	}
	l := newLink(b)
	t0 := time.Now()
	sb, err := b.cfg.Runtime.Start(ctx, engine.RunRequest{
		ContainerID:  sandboxID,
		RootDisk:     root,
		WritableDisk: b.statePath(cacheDiskName),
		Process: engine.ProcessSpec{
			Args: []string{daemonPath, "serve"},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		Stdio:      engine.Stdio{Stdin: l.stdin, Stdout: l, Stderr: daemonLog},
		Hostname:   "pier-builder",
		MemoryMiB:  b.cfg.MemoryMiB,
		CPUs:       b.cfg.CPUs,
		StateDir:   b.statePath("state"),
		ConsoleLog: b.statePath("console.log"),
		Network:    netCfg,
		Emulate:    b.emulated(),
	})
	if err != nil {
		daemonLog.Close()
		l.close()
		release()
		return nil, err
	}
	inst := &instance{sb: sb, link: l, marker: b.uncleanMarker(), done: make(chan struct{})}
	l.setFiles(sb.Files())
	go func() {
		st, err := sb.Wait(context.Background())
		if err == nil {
			err = fmt.Errorf("the builder daemon exited with code %d (%s)", st.Code, b.statePath("buildkitd.log"))
		}
		inst.doneErr = err
		<-sb.Done()
		release()
		close(inst.done)
		l.close()
		daemonLog.Close()
	}()
	select {
	case <-l.ready:
		b.log.Info("builder ready", "after", time.Since(t0).Round(time.Millisecond))
		return inst, nil
	case <-inst.done:
		_ = sb.Kill()
		return nil, inst.doneErr
	case <-time.After(readyTimeout):
		inst.stop()
		return nil, fmt.Errorf("the builder daemon did not get ready in %v (%s)", readyTimeout, b.statePath("buildkitd.log"))
	case <-ctx.Done():
		inst.stop()
		return nil, ctx.Err()
	}
}

// emulated is the platform of the other architecture when the runtime can
// emulate it: the builder VM then has its emulator, so that RUN steps of a
// --platform build for it run (BuildKit finds the emulator registered).
func (b *Builder) emulated() *platform.Platform {
	checker, ok := b.cfg.Runtime.(engine.PlatformChecker)
	if !ok {
		return nil
	}
	name := "linux/arm64"
	if platform.Host().Architecture == "arm64" {
		name = "linux/amd64"
	}
	other, err := platform.Parse(name)
	if err != nil {
		return nil
	}
	if err := checker.CheckPlatform(other); err != nil {
		b.log.Info("builds for another architecture cannot run steps here", "platform", other, "err", err)
		return nil
	}
	return &other
}

// Recover stops, at daemon start, a builder VM that a killed pierd left
// running (without it, that VM would hold its memory until the next
// build) and removes an unfinished cache disk.
func (b *Builder) Recover(ctx context.Context) {
	atomicfile.SweepTemps(b.statePath(cacheDiskName)) // a cache disk a killed pierd was writing
	if _, err := os.Stat(b.statePath("state")); err != nil {
		return // no builder ever ran here
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == nil {
		b.stopLeftover(ctx)
	}
}

// stopLeftover ends a builder VM that a previous pierd left running (one
// killed before it could stop it): its disks are about to be used again.
func (b *Builder) stopLeftover(ctx context.Context) {
	adopter, ok := b.cfg.Runtime.(engine.SandboxAdopter)
	if !ok {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	sb, err := adopter.Adopt(actx, engine.AdoptRequest{
		ContainerID: sandboxID,
		StateDir:    b.statePath("state"),
		ConsoleLog:  b.statePath("console.log"),
		Stdio:       engine.Stdio{Stdout: io.Discard, Stderr: io.Discard},
	})
	var gone *engine.SandboxGoneError
	switch {
	case err == nil:
		b.log.Info("stopping the builder VM a previous pierd left running")
		if stopSandbox(sb) {
			os.Remove(b.uncleanMarker())
		}
	case errors.As(err, &gone):
	default:
		b.log.Warn("cannot check for a builder VM a previous pierd left running", "err", err)
	}
}
