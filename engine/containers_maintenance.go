package engine

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"time"
)

// maintenanceLinger is how long an idle maintenance VM stays up for the
// next file operation: docker cp asks for a stat, then for the copy, and
// Testcontainers copies several files in a row before the start.
const maintenanceLinger = 3 * time.Second

// maintenance is the VM that serves file operations of a container that
// is not running. It owns the container's writable disk while it is up:
// it is booted and shut down only under the container's op lock, which
// start and remove hold too, so the disk is never used by two VMs; a start
// or a removal waits for the operations under way, then powers it off.
type maintenance struct {
	session FilesSession
	users   int            // guarded by the container's mu
	active  sync.WaitGroup // one per user
	idle    *time.Timer    // guarded by the container's mu
}

// files returns access to x's files and the function that releases it:
// the running VM's, or a maintenance VM's (booted on demand, shared by
// concurrent operations, powered off when it has been idle for
// maintenanceLinger and before the container starts or is removed).
func (s *Containers) files(ctx context.Context, x *ctr) (Files, func(), error) {
	x.mu.Lock()
	paused, id := x.run != nil && x.c.State.Paused, x.c.ID
	x.mu.Unlock()
	if paused {
		// The frozen guest cannot answer (dockerd reads a paused
		// container's files on the host).
		return nil, nil, errFilesPaused(id)
	}
	if r := x.running(); r != nil {
		return r.sandbox.Files(), func() {}, nil
	}
	x.op.Lock()
	defer x.op.Unlock()
	x.mu.Lock()
	if r := x.run; r != nil {
		x.mu.Unlock()
		return r.sandbox.Files(), func() {}, nil
	}
	if x.removing || x.removed {
		id := x.c.ID
		x.mu.Unlock()
		return nil, nil, errRemovalInProgress(id)
	}
	m := x.maint
	c := x.c
	if m != nil {
		m.join()
		x.mu.Unlock()
		return m.session, s.releaser(x, m), nil
	}
	x.mu.Unlock()

	req, err := s.runRequest(ctx, x, c)
	if err != nil {
		return nil, nil, err
	}
	session, err := s.runtime.OpenFiles(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	m = &maintenance{session: session}
	x.mu.Lock()
	x.maint = m
	m.join()
	x.mu.Unlock()
	return session, s.releaser(x, m), nil
}

// join counts one more user; x.mu is held.
func (m *maintenance) join() {
	m.users++
	m.active.Add(1)
	if m.idle != nil {
		m.idle.Stop()
		m.idle = nil
	}
}

// releaser returns the function a user of m calls once done (once).
func (s *Containers) releaser(x *ctr, m *maintenance) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			x.mu.Lock()
			m.users--
			if m.users == 0 && x.maint == m {
				m.idle = time.AfterFunc(maintenanceLinger, func() { s.closeIdleMaintenance(x, m) })
			}
			x.mu.Unlock()
			m.active.Done()
		})
	}
}

// closeIdleMaintenance powers m off if nobody took it up again.
func (s *Containers) closeIdleMaintenance(x *ctr, m *maintenance) {
	x.op.Lock()
	defer x.op.Unlock()
	x.mu.Lock()
	if x.maint != m || m.users > 0 {
		x.mu.Unlock()
		return
	}
	x.mu.Unlock()
	// x.maint stays m until the VM is gone, so that a daemon shutdown
	// meanwhile (killMaintenance, without the op lock) waits for it too.
	if err := m.session.Close(); err != nil {
		s.log.Warn("stopping maintenance VM", "id", x.snapshot().ID, "err", err)
	}
	x.mu.Lock()
	if x.maint == m {
		x.maint = nil
	}
	x.mu.Unlock()
}

// endMaintenance waits for the file operations under way on x's
// maintenance VM, then powers it off; x.op is held, so no new operation
// joins meanwhile.
func (s *Containers) endMaintenance(x *ctr) {
	x.mu.Lock()
	m := x.maint
	x.maint = nil
	if m != nil && m.idle != nil {
		m.idle.Stop()
	}
	x.mu.Unlock()
	if m == nil {
		return
	}
	m.active.Wait()
	if err := m.session.Close(); err != nil {
		s.log.Warn("stopping maintenance VM", "id", x.snapshot().ID, "err", err)
	}
}

// killMaintenance powers x's maintenance VM off (daemon shutdown), or
// waits for the power-off under way.
func (s *Containers) killMaintenance(x *ctr) {
	x.mu.Lock()
	m := x.maint
	x.maint = nil
	x.mu.Unlock()
	if m != nil {
		_ = m.session.Close()
	}
}

// running returns x's current run (nil when not running).
func (x *ctr) running() *run {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.run
}

// releaseOnClose calls release once r is closed.
type releaseOnClose struct {
	io.ReadCloser
	release func()
}

func (r releaseOnClose) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}

// writableDisk is where x's writable disk is.
func (s *Containers) writableDisk(id string) string {
	return filepath.Join(s.store.Dir(id), "rw.img")
}
