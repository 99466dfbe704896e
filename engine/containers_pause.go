package engine

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// docker pause and unpause: the container's VM stops its vCPUs and
// resumes them (Sandbox.Pause, Resume). A paused guest cannot answer, so
// pausing first takes what docker stats and docker top show of it
// (nothing changes in it meanwhile), stops the health monitor (dockerd
// does not probe paused containers either) and refuses execs and
// attaches; a stop or kill that ends the container resumes it first.

// pauseTimeout bounds a pause or resume of the VM.
const pauseTimeout = 30 * time.Second

// frozenView is what a paused container's guest showed when it was
// paused.
type frozenView struct {
	stats *Stats
	procs *ProcessList
}

func errAlreadyPaused(id string) error {
	return errdefs.Conflictf("Container %s is already paused", id)
}

func errRestarting(id string) error {
	return errdefs.Conflictf("Container %s is restarting, wait until the container is running", id)
}

// ContainerPause stops the container's VM.
func (s *Containers) ContainerPause(ctx context.Context, ref string) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	r, id, paused, restarting := x.run, x.c.ID, x.c.State.Paused, x.restarts.pending != nil
	x.mu.Unlock()
	switch {
	case restarting:
		return errRestarting(id)
	case r == nil:
		return errNotRunning(id)
	case paused:
		return errAlreadyPaused(id)
	}
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	x.mu.Lock()
	current, paused := x.run == r, x.c.State.Paused
	x.mu.Unlock()
	switch {
	case !current:
		return errNotRunning(id)
	case paused:
		return errAlreadyPaused(id)
	}

	view := s.freeze(r)
	r.stopHealth()
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pauseTimeout)
	defer cancel()
	if err := r.sandbox.Pause(pctx); err != nil {
		s.restartHealth(x, r)
		if errdefs.KindOf(err) == errdefs.KindNotImplemented {
			return errdefs.NotImplemented(fmt.Errorf("Cannot pause container %s: %w", id, err))
		}
		return fmt.Errorf("Cannot pause container %s: %w", id, err)
	}
	x.mu.Lock()
	if x.run == r {
		r.frozen = view
		x.c.State.Paused, x.c.State.Status = true, container.StatusPaused
		if err := s.saveLocked(x); err != nil {
			s.log.Warn("persisting paused container", "id", id, "err", err)
		}
		x.notifyLocked()
	}
	snap := x.c
	x.mu.Unlock()
	s.publish(snap, "pause", nil)
	return nil
}

// ContainerUnpause resumes the container's VM. As dockerd, a container
// that is not paused is an error of its own (a 500), whatever its state.
func (s *Containers) ContainerUnpause(ctx context.Context, ref string) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	x.mu.Lock()
	r, id, paused := x.run, x.c.ID, x.c.State.Paused
	x.mu.Unlock()
	if !paused || r == nil {
		return fmt.Errorf("Container %s is not paused", id)
	}
	resumed, err := s.resume(ctx, x, r)
	if err != nil {
		return fmt.Errorf("Cannot unpause container %s: %w", id, err)
	}
	if !resumed {
		return fmt.Errorf("Container %s is not paused", id)
	}
	return nil
}

// resume lets run r's VM go on when it is paused, records it and
// publishes unpause; resumed says whether it was paused.
func (s *Containers) resume(ctx context.Context, x *ctr, r *run) (resumed bool, err error) {
	r.pauseMu.Lock()
	defer r.pauseMu.Unlock()
	x.mu.Lock()
	paused := x.run == r && x.c.State.Paused
	x.mu.Unlock()
	if !paused {
		return false, nil
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pauseTimeout)
	defer cancel()
	if err := r.sandbox.Resume(pctx); err != nil {
		return false, err
	}
	x.mu.Lock()
	if x.run == r {
		r.frozen = nil
		x.c.State.Paused, x.c.State.Status = false, container.StatusRunning
		if err := s.saveLocked(x); err != nil {
			s.log.Warn("persisting unpaused container", "id", x.c.ID, "err", err)
		}
		x.notifyLocked()
	}
	snap := x.c
	x.mu.Unlock()
	s.publish(snap, "unpause", nil)
	s.restartHealth(x, r)
	return true, nil
}

// resumeToEnd resumes a paused run before a signal that ends it (the stop
// signal or SIGKILL), as dockerd unpauses a container it stops or kills;
// other signals wait in the paused guest, as under dockerd.
func (s *Containers) resumeToEnd(x *ctr, r *run, sig syscall.Signal) {
	x.mu.Lock()
	paused := x.run == r && x.c.State.Paused
	stopSignal := x.c.Config.StopSignal
	x.mu.Unlock()
	if !paused {
		return
	}
	if sig != syscall.SIGKILL {
		want := syscall.SIGTERM
		if stopSignal != "" {
			if parsed, err := ParseSignal(stopSignal); err == nil {
				want = parsed
			}
		}
		if sig != want {
			return
		}
	}
	if _, err := s.resume(context.Background(), x, r); err != nil {
		s.log.Warn("cannot unpause container", "id", x.snapshot().ID, "err", err)
	}
}

// freeze reads what docker stats and top show of run r before its guest
// is paused (best effort: a guest that does not answer shows nothing).
func (s *Containers) freeze(r *run) *frozenView {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	view := &frozenView{}
	if st, err := r.sandbox.Stats(ctx); err == nil {
		view.stats = &st
	}
	if procs, err := r.sandbox.Processes(ctx); err == nil {
		view.procs = &procs
	}
	return view
}

// restartHealth starts run r's health monitor again after a pause, from
// the health the container has.
func (s *Containers) restartHealth(x *ctr, r *run) {
	x.mu.Lock()
	if x.run != r || x.c.State.Health == nil {
		x.mu.Unlock()
		return
	}
	m := s.healthMonitorOfLocked(x, r)
	h := *x.c.State.Health.Clone()
	x.mu.Unlock()
	if m != nil {
		s.startHealth(r, m, h)
		// The run may have ended meanwhile, after its exit stopped the
		// monitor that was then running.
		go func() {
			<-r.done
			r.stopHealth()
		}()
	}
}

// pausedView returns what run r's guest showed when it was paused (nil
// when it is not paused).
func (x *ctr) pausedView(r *run) *frozenView {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.run != r || !x.c.State.Paused {
		return nil
	}
	if r.frozen == nil {
		return &frozenView{}
	}
	return r.frozen
}
