package vz

import (
	"context"
	"errors"
	"fmt"
	"github.com/pier-vm/pier/internal/sockpath"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// launcher starts shims and reattaches to running ones. It is the portable
// body of the darwin/arm64 Driver.
type launcher struct {
	options
}

// start writes spec.json, starts the shim in a session of its own and
// waits until it reports the VM running.
func (l *launcher) start(ctx context.Context, spec vm.Spec) (*machine, error) {
	return l.startShim(ctx, spec, nil)
}

// startShim is start; with tmpl, the shim restores the VM from a template
// (template.go) instead of booting it.
func (l *launcher) startShim(ctx context.Context, spec vm.Spec, tmpl *shimTemplate) (*machine, error) {
	spec, err := normalize(spec)
	if err != nil {
		return nil, err
	}
	for _, s := range spec.Shares {
		if s.Rosetta {
			if err := checkRosetta(rosettaStatus()); err != nil {
				return nil, fmt.Errorf("vm %s: share %q: %w", spec.ID, s.Tag, err)
			}
		}
	}
	if err := os.MkdirAll(spec.StateDir, 0o700); err != nil {
		return nil, err
	}
	removeRuntimeFiles(spec.StateDir)
	_ = os.Remove(filepath.Join(spec.StateDir, exitFileName))
	nicFiles, nics, err := attachNICs(spec)
	if err != nil {
		return nil, err
	}
	defer closeFiles(nicFiles) // the shim holds its own copies
	if err := writeConfig(spec.StateDir, shimConfig{Spec: spec, RosettaCache: l.rosettaCache, NICs: nics, Template: tmpl}); err != nil {
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	p, err := l.spawn(spec.StateDir, nicFiles)
	if err != nil {
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	fail := func(err error) (*machine, error) {
		p.kill()
		removeRuntimeFiles(spec.StateDir)
		return nil, fmt.Errorf("vm %s: %w", spec.ID, err)
	}
	info, err := l.awaitShim(ctx, spec.StateDir, p.reaped, p.exitError)
	if err != nil {
		return fail(err)
	}
	m, err := newMachine(spec.ID, spec.StateDir, info, p.reaped)
	if err != nil {
		return fail(err)
	}
	l.log.Debug("vm started", "id", spec.ID, "shim pid", p.pid, "from template", tmpl != nil)
	return m, nil
}

// shimProc is a shim process this daemon started.
type shimProc struct {
	pid     int
	logPath string
	reaped  chan struct{} // closed once reaped
	waitErr error         // set before reaped closes
}

// spawn starts the shim for the spec.json in stateDir, in a session of
// its own, with files as its fds 3, 4, ... and its output in shim.log,
// and records its pid.
func (l *launcher) spawn(stateDir string, files []*os.File) (*shimProc, error) {
	logPath := filepath.Join(stateDir, shimLogName)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the shim holds its own copy
	args := append(append([]string(nil), l.shimArgs...), "--state-dir", stateDir)
	cmd := exec.Command(l.shimBinary, args...)
	cmd.Dir = stateDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = files
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start shim %s: %w", l.shimBinary, err)
	}
	p := &shimProc{pid: cmd.Process.Pid, logPath: logPath, reaped: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.reaped)
	}()
	if err := writeFileAtomic(filepath.Join(stateDir, shimPidName), []byte(strconv.Itoa(p.pid)+"\n")); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

// kill ends the shim's session and waits until it is reaped.
func (p *shimProc) kill() {
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	<-p.reaped
}

// exitError says how the shim ended, with its log's tail (once reaped).
func (p *shimProc) exitError() error { return shimExitError(p.waitErr, p.logPath) }

// awaitShim polls for shim.json until the shim writes it, exits, or the
// start timeout or ctx ends.
func (l *launcher) awaitShim(ctx context.Context, dir string, exited <-chan struct{}, exitErr func() error) (shimInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, l.startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := readShimInfo(dir)
		if err == nil {
			return info, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return info, err
		}
		select {
		case <-exited:
			if info, err := readShimInfo(dir); err == nil {
				return info, nil // it ran and already ended
			}
			return info, exitErr()
		case <-ctx.Done():
			return info, errdefs.Unavailable(fmt.Errorf("shim did not report the vm running: %w", ctx.Err()))
		case <-tick.C:
		}
	}
}

// attach reconnects to the shim running in stateDir, as a restarted daemon
// does. A dead shim's leftovers are removed.
func (l *launcher) attach(ctx context.Context, stateDir string) (*machine, error) {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, err
	}
	cfg, err := readConfig(stateDir)
	if err != nil {
		return nil, err
	}
	info, err := readShimInfo(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errdefs.NotFound(fmt.Errorf("vm %s: no shim runs in %s", cfg.Spec.ID, stateDir))
	}
	if err != nil {
		return nil, err
	}
	ctlPath, err := sockpath.For(stateDir, info.Control)
	if err != nil {
		return nil, err
	}
	probe, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := callControl(probe, ctlPath, opState)
	if err != nil || resp.State == stateStopped {
		removeRuntimeFiles(stateDir)
		return nil, errdefs.NotFound(fmt.Errorf("vm %s: shim %d does not answer, cleaned up: %v", cfg.Spec.ID, info.Pid, err))
	}
	return newMachine(cfg.Spec.ID, stateDir, info, nil)
}

// shimExitError describes how a shim ended, with its log's tail.
func shimExitError(waitErr error, logPath string) error {
	msg := "exited"
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		msg = ee.ProcessState.String()
	}
	b, _ := os.ReadFile(logPath)
	tail := strings.TrimSpace(string(b))
	if len(tail) > 2000 {
		tail = "…" + tail[len(tail)-2000:]
	}
	if tail == "" {
		return fmt.Errorf("vz shim %s", msg)
	}
	return fmt.Errorf("vz shim %s: %s", msg, tail)
}
