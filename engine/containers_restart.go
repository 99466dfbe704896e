package engine

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/restart"
	"github.com/pier-vm/pier/errdefs"
)

// restartState is one container's restart supervisor, as dockerd's
// restart manager: the back-off, whether the user called off restarts
// (stop, kill) and the pending restart. It lives in ctr, under ctr.mu.
type restartState struct {
	backoff restart.Backoff
	// off is set when the user stopped or killed the container: its next
	// exit restarts nothing, until the user starts it again.
	off bool
	// pending is closed to call off the restart that waits out its
	// back-off (nil when none); the container is "restarting" meanwhile.
	pending chan struct{}
}

// restartDecisionLocked says whether the run that lasted ran and ended
// with code restarts, and after which delay; x.mu is held.
func (s *Containers) restartDecisionLocked(x *ctr, code int, ran time.Duration) (time.Duration, bool) {
	if x.restarts.off || x.removing || s.shuttingDown.Load() {
		return 0, false
	}
	if !restart.ShouldRestart(x.c.HostConfig.RestartPolicy, code, x.c.RestartCount, x.c.ManuallyStopped) {
		return 0, false
	}
	return x.restarts.backoff.Next(ran), true
}

// restartAfter starts x again once delay passed, unless the restart was
// called off (pending closed or replaced) meanwhile. A failed start leaves
// the container exited with the error.
func (s *Containers) restartAfter(x *ctr, delay time.Duration, pending chan struct{}) {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-pending:
		return
	}
	x.op.Lock()
	defer x.op.Unlock()
	x.mu.Lock()
	if x.restarts.pending != pending {
		x.mu.Unlock()
		return
	}
	x.restarts.pending = nil
	x.mu.Unlock()
	err := s.startLocked(context.Background(), x)
	if err == nil || errdefs.IsNotModified(err) {
		return
	}
	s.log.Warn("restarting container", "id", x.snapshot().ID, "err", err)
	x.mu.Lock()
	if x.run == nil && x.c.State.Restarting {
		st := x.c.State
		x.c.State.SetExited(st.ExitCode, st.OOMKilled, err.Error(), st.FinishedAt)
		if serr := s.saveLocked(x); serr != nil {
			s.log.Error("persisting container", "id", x.c.ID, "err", serr)
		}
		x.notifyLocked()
	}
	x.mu.Unlock()
}

// endPendingRestartLocked calls off x's pending restart, if any, and
// records the container as exited; x.mu is held.
func (s *Containers) endPendingRestartLocked(x *ctr) bool {
	if x.restarts.pending == nil {
		return false
	}
	close(x.restarts.pending)
	x.restarts.pending = nil
	st := x.c.State
	x.c.State.SetExited(st.ExitCode, st.OOMKilled, st.Error, st.FinishedAt)
	if err := s.saveLocked(x); err != nil {
		s.log.Error("persisting container", "id", x.c.ID, "err", err)
	}
	x.notifyLocked()
	return true
}

// callOffRestartsLocked records a stop by the user: no restart until the
// user starts the container again, and unless-stopped stays stopped
// (a daemon shutdown stops containers without either); x.mu is held.
func (s *Containers) callOffRestartsLocked(x *ctr) {
	if s.shuttingDown.Load() {
		return
	}
	x.restarts.off = true
	x.c.ManuallyStopped = true
}

// killCallsOffRestartsLocked records a kill by the user as dockerd does:
// every signal counts as a manual stop for unless-stopped; SIGKILL, the
// container's stop signal, or any signal when it has none, calls off the
// restarts; x.mu is held.
func (s *Containers) killCallsOffRestartsLocked(x *ctr, sig syscall.Signal) {
	if s.shuttingDown.Load() {
		return
	}
	x.c.ManuallyStopped = true
	stopSig := x.c.Config.StopSignal
	if sig == syscall.SIGKILL || stopSig == "" {
		x.restarts.off = true
		return
	}
	if parsed, err := ParseSignal(stopSig); err == nil && parsed == sig {
		x.restarts.off = true
	}
}

// userStartLocked prepares a start by the user (start, restart, daemon
// start): a restarting container is "not modified"; otherwise the restart
// count, the back-off and the manual stop start over; x.op is held.
func (s *Containers) userStartLocked(x *ctr) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.restarts.pending != nil {
		return errdefs.NotModified(errors.New("container already started"))
	}
	if x.run != nil {
		return nil // startLocked answers "not modified"
	}
	x.c.RestartCount = 0
	x.c.ManuallyStopped = false
	x.restarts.off = false
	x.restarts.backoff.Reset()
	return nil
}

// StartRestartable starts, each in its own goroutine, the containers that
// a starting daemon brings back by their restart policy (always;
// unless-stopped unless the user stopped it; on-failure after a failure),
// as dockerd does at boot. It returns at once; failures are logged.
func (s *Containers) StartRestartable(ctx context.Context) {
	for _, x := range s.all() {
		x.mu.Lock()
		c, running := x.c, x.run != nil
		x.mu.Unlock()
		if running || !restart.AtDaemonStart(c) {
			continue
		}
		go func() {
			if err := s.ContainerStart(ctx, c.ID); err != nil && !errdefs.IsNotModified(err) {
				s.log.Warn("starting container by its restart policy", "id", c.ID, "err", err)
			}
		}()
	}
}
