package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// killGrace is how long a SIGKILLed process may take to go before its VM is
// destroyed.
const killGrace = 10 * time.Second

// ContainerStart starts a created or exited container (its VM boots and
// runs the main process). A running container is "not modified".
func (s *Containers) ContainerStart(ctx context.Context, ref string) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.op.Lock()
	defer x.op.Unlock()
	if err := s.userStartLocked(x); err != nil {
		return err
	}
	return s.startLocked(ctx, x)
}

// startLocked starts x; x.op is held.
func (s *Containers) startLocked(ctx context.Context, x *ctr) error {
	x.mu.Lock()
	c, running, removing := x.c, x.run != nil, x.removing || x.removed
	x.mu.Unlock()
	switch {
	case removing:
		return errdefs.Conflictf("container is marked for removal and cannot be started")
	case running:
		return errdefs.NotModified(errors.New("container already started"))
	}
	// The writable disk is the new VM's alone.
	s.endMaintenance(x)

	att, err := s.attachNetworks(c)
	var sb Sandbox
	if err == nil {
		c.LinkEnv = att.linkEnv
		sb, err = s.boot(ctx, x, c, att.config)
		if err != nil {
			s.detachNetworks(att.held)
		}
	}
	if err != nil {
		x.mu.Lock()
		x.c.State.Error = err.Error()
		x.c.State.ExitCode = startFailureCode(err)
		_ = s.saveLocked(x)
		autoRemove := x.c.HostConfig.AutoRemove && !x.removing
		if autoRemove {
			x.removing = true
		}
		x.notifyLocked()
		x.mu.Unlock()
		if autoRemove {
			// Like dockerd: a container run with --rm whose start failed is
			// removed, which ends the client's wait for its removal.
			go func() {
				if err := s.destroy(x, true); err != nil {
					s.log.Error("auto-removing container after a failed start", "id", c.ID, "err", err)
				}
			}()
		}
		return err
	}

	r := &run{sandbox: sb, net: att.held, done: make(chan struct{})}
	x.mu.Lock()
	x.run = r
	x.c.State.SetRunning(sb.HostPid(), time.Now().UTC())
	x.c.Networks, x.c.Ports, x.c.LinkEnv = att.endpoints, att.ports, att.linkEnv
	hm := s.healthMonitorLocked(x, r)
	saveErr := s.saveLocked(x)
	x.notifyLocked()
	snap := x.c
	x.mu.Unlock()
	if saveErr != nil {
		s.log.Error("persisting started container", "id", c.ID, "err", saveErr)
	}
	s.publish(snap, "start", nil)
	if hm != nil {
		s.startHealth(r, hm, *snap.State.Health)
	}
	go s.monitor(x, r)
	return nil
}

// boot resolves the pinned image and asks the runtime for a sandbox.
func (s *Containers) boot(ctx context.Context, x *ctr, c container.Container, netCfg *NetworkConfig) (Sandbox, error) {
	req, err := s.runRequest(ctx, x, c)
	if err != nil {
		return nil, err
	}
	logStart := x.log.Size()
	logOut, logErr, err := x.log.StartSession()
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	x.c.LogStart = logStart // persisted with the start
	x.mu.Unlock()
	req.Stdio = Stdio{
		Stdout: io.MultiWriter(logOut, x.output.writer(false)),
		Stderr: io.MultiWriter(logErr, x.output.writer(true)),
	}
	if c.Config.OpenStdin {
		req.Stdio.Stdin = x.stdin.reader()
	}
	req.Process = processSpec(c)
	req.Network = netCfg
	sb, err := s.runtime.Start(ctx, req)
	if err != nil {
		_ = x.log.EndSession()
		return nil, err
	}
	return sb, nil
}

// runRequest is what every VM of the container needs: its pinned image's
// root disk, its writable disk, an empty state directory, its mounts.
func (s *Containers) runRequest(ctx context.Context, x *ctr, c container.Container) (RunRequest, error) {
	img, err := s.images.Resolve(c.ImageID, nil)
	if err != nil {
		return RunRequest{}, err
	}
	rootDisk, err := s.images.RootDisk(ctx, img)
	if err != nil {
		return RunRequest{}, fmt.Errorf("preparing root disk: %w", err)
	}
	dir := s.store.Dir(c.ID)
	stateDir := filepath.Join(dir, "vm")
	if err := os.RemoveAll(stateDir); err != nil {
		return RunRequest{}, err
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return RunRequest{}, err
	}
	return RunRequest{
		ContainerID:  c.ID,
		Image:        img,
		RootDisk:     rootDisk,
		WritableDisk: s.writableDisk(c.ID),
		Hostname:     c.Config.Hostname,
		Domainname:   c.Config.Domainname,
		MemoryMiB:    c.MemoryMiB,
		CPUs:         c.CPUs,
		StateDir:     stateDir,
		ConsoleLog:   filepath.Join(dir, "console.log"),
		Mounts:       c.MountPoints,
		Ephemeral:    c.HostConfig.AutoRemove,
	}, nil
}

// monitor waits for the main process of run r to end and records it.
func (s *Containers) monitor(x *ctr, r *run) {
	status, err := r.sandbox.Wait(context.Background())
	if errors.Is(err, ErrDetached) {
		// The daemon stops and leaves the container running (live
		// restore): nothing ended.
		r.stopHealth()
		_ = x.log.Detach()
		x.output.endRun()
		close(r.done)
		return
	}
	// A resume in flight (the stop of a paused container unpauses it, and
	// the signal held in the paused guest may end it) publishes unpause
	// before this run's die.
	r.pauseMu.Lock()
	r.pauseMu.Unlock()
	errMsg := ""
	if err != nil {
		// The runtime may say how the sandbox ended (a VM that died
		// reports 137); an unexplained loss is 255.
		if status.Code == 0 {
			status.Code = 255
		}
		errMsg = err.Error()
	}
	if status.ExitedAt.IsZero() {
		status.ExitedAt = time.Now()
	}
	r.stopHealth()
	s.log.Debug("container process exited", "id", x.snapshot().ID, "code", status.Code)
	if kerr := r.sandbox.Kill(); kerr != nil {
		s.log.Warn("stopping container VM", "err", kerr)
	}
	s.log.Debug("container VM gone", "id", x.snapshot().ID)
	_ = x.log.EndSession()
	s.detachNetworks(r.net)

	x.mu.Lock()
	x.run = nil
	delay, restarting := s.restartDecisionLocked(x, status.Code, status.ExitedAt.Sub(x.c.State.StartedAt))
	if restarting {
		x.c.RestartCount++
		x.c.State.SetRestarting(status.Code, status.ExitedAt.UTC())
		x.c.State.OOMKilled, x.c.State.Error = status.OOMKilled, errMsg
	} else {
		x.c.State.SetExited(status.Code, status.OOMKilled, errMsg, status.ExitedAt.UTC())
	}
	endHealthLocked(x)
	clearNetworkState(&x.c)
	x.exits++
	if err := s.saveLocked(x); err != nil {
		s.log.Error("persisting exited container", "id", x.c.ID, "err", err)
	}
	autoRemove := x.c.HostConfig.AutoRemove && !x.removing && !restarting
	if autoRemove {
		x.removing = true
	}
	var pending chan struct{}
	if restarting {
		pending = make(chan struct{})
		x.restarts.pending = pending
	}
	snap := x.c
	x.notifyLocked()
	x.mu.Unlock()

	x.output.endRun()
	x.stdin.renew()
	if status.OOMKilled {
		s.publish(snap, "oom", nil)
	}
	s.publish(snap, "die", map[string]string{
		"exitCode":     strconv.Itoa(status.Code),
		"execDuration": strconv.Itoa(int(status.ExitedAt.Sub(snap.State.StartedAt).Seconds())),
	})
	close(r.done)
	if restarting {
		go s.restartAfter(x, delay, pending)
	}
	if autoRemove {
		if err := s.destroy(x, true); err != nil {
			s.log.Error("auto-removing container", "id", snap.ID, "err", err)
		}
	}
}

// StopOptions tune stop and restart.
type StopOptions struct {
	// Signal overrides the container's stop signal.
	Signal string
	// Timeout overrides the grace period before SIGKILL, in seconds;
	// negative waits forever.
	Timeout *int
}

// ContainerStop sends the stop signal, waits the grace period, then kills.
// A container that is not running is "not modified".
func (s *Containers) ContainerStop(ctx context.Context, ref string, opts StopOptions) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	if opts.Signal != "" {
		if _, err := ParseSignal(opts.Signal); err != nil {
			return err
		}
	}
	x.op.Lock()
	defer x.op.Unlock()
	return s.stopLocked(x, opts)
}

// stopLocked stops x; x.op is held.
func (s *Containers) stopLocked(x *ctr, opts StopOptions) error {
	x.mu.Lock()
	r, c := x.run, x.c
	calledOff := false
	if r != nil || x.restarts.pending != nil {
		s.callOffRestartsLocked(x)
		calledOff = s.endPendingRestartLocked(x)
	}
	x.mu.Unlock()
	if calledOff {
		s.publish(x.snapshot(), "stop", nil)
		return nil
	}
	if r == nil {
		return errdefs.NotModified(errors.New("container already stopped"))
	}
	sig := syscall.SIGTERM
	if name := firstNonEmpty(opts.Signal, c.Config.StopSignal); name != "" {
		parsed, err := ParseSignal(name)
		if err != nil {
			return err
		}
		sig = parsed
	}
	timeout := defaultStopTimeout
	if c.Config.StopTimeout != nil {
		timeout = time.Duration(*c.Config.StopTimeout) * time.Second
	}
	if opts.Timeout != nil {
		timeout = time.Duration(*opts.Timeout) * time.Second
	}

	s.signal(x, r, sig)
	if !waitDone(r.done, timeout) {
		s.forceKill(x, r)
	}
	s.publish(x.snapshot(), "stop", nil)
	return nil
}

// signal sends sig to the main process and publishes the kill event.
func (s *Containers) signal(x *ctr, r *run, sig syscall.Signal) error {
	s.resumeToEnd(x, r, sig)
	s.publish(x.snapshot(), "kill", map[string]string{"signal": strconv.Itoa(int(sig))})
	ctx, cancel := context.WithTimeout(context.Background(), killGrace)
	defer cancel()
	return r.sandbox.Signal(ctx, sig)
}

// forceKill sends SIGKILL, then destroys the VM if the process lingers, and
// returns once the exit is recorded.
func (s *Containers) forceKill(x *ctr, r *run) {
	if err := s.signal(x, r, syscall.SIGKILL); err != nil {
		s.log.Debug("SIGKILL", "id", x.snapshot().ID, "err", err)
	}
	if !waitDone(r.done, killGrace) {
		_ = r.sandbox.Kill()
		<-r.done
	}
}

// ContainerKill sends a signal (SIGKILL when empty) to the main process.
// For SIGKILL it returns once the container has exited.
func (s *Containers) ContainerKill(ctx context.Context, ref, signal string) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if signal != "" {
		if sig, err = ParseSignal(signal); err != nil {
			return err
		}
	}
	x.mu.Lock()
	r, id := x.run, x.c.ID
	restarting := r == nil && x.restarts.pending != nil
	if r != nil || restarting {
		s.killCallsOffRestartsLocked(x, sig)
		if x.restarts.off {
			s.endPendingRestartLocked(x)
		}
	}
	x.mu.Unlock()
	if restarting {
		// No process to signal; as dockerd, a kill that calls the
		// restarts off ends the pending restart, any other is a no-op.
		return nil
	}
	if r == nil {
		return errNotRunning(id)
	}
	if sig == syscall.SIGKILL {
		s.forceKill(x, r)
		return nil
	}
	return s.signal(x, r, sig)
}

// ContainerRestart stops the container when it runs, then starts it.
func (s *Containers) ContainerRestart(ctx context.Context, ref string, opts StopOptions) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.op.Lock()
	defer x.op.Unlock()
	if err := s.stopLocked(x, opts); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	if err := s.userStartLocked(x); err != nil {
		return err
	}
	if err := s.startLocked(ctx, x); err != nil {
		return err
	}
	s.publish(x.snapshot(), "restart", nil)
	return nil
}

// ContainerResize sets the terminal size of the main process.
func (s *Containers) ContainerResize(ctx context.Context, ref string, height, width uint) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	r, id := x.run, x.c.ID
	x.mu.Unlock()
	if r == nil {
		return errNotRunning(id)
	}
	return r.sandbox.Resize(ctx, height, width)
}

// Shutdown stops every running container for a daemon shutdown: SIGTERM,
// then, when ctx ends, their VMs are killed.
func (s *Containers) Shutdown(ctx context.Context) {
	s.shuttingDown.Store(true)
	if s.liveRestore {
		s.detachAll()
		return
	}
	var runs []*run
	for _, x := range s.all() {
		x.mu.Lock()
		r := x.run
		s.endPendingRestartLocked(x)
		x.mu.Unlock()
		if r != nil {
			// A paused VM must run to see its SIGTERM.
			if _, err := s.resume(ctx, x, r); err != nil {
				s.log.Warn("cannot unpause container for the shutdown", "id", x.snapshot().ID, "err", err)
			}
			_ = s.signal(x, r, syscall.SIGTERM)
			runs = append(runs, r)
		}
		s.killMaintenance(x)
	}
	for _, r := range runs {
		select {
		case <-r.done:
		case <-ctx.Done():
			_ = r.sandbox.Kill()
			<-r.done
		}
	}
}

// waitDone waits for done up to d (forever when d < 0).
func waitDone(done <-chan struct{}, d time.Duration) bool {
	if d < 0 {
		<-done
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// startFailureCode is the exit code a failed start records, as Docker's:
// the runtime's for a command that is not there (127) or cannot run (126),
// else 128.
func startFailureCode(err error) int {
	var ce *CommandError
	if errors.As(err, &ce) {
		return ce.ExitCode
	}
	return 128
}
