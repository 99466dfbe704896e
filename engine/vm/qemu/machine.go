package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// errKilled is Err after Kill.
var errKilled = errors.New("vm killed")

// machine is one running QEMU process and its virtiofsd helpers.
type machine struct {
	id       string
	stateDir string
	qemu     *helper
	fsds     []*helper
	// qmpMu serialises QMP sessions (pause, resume).
	qmpMu sync.Mutex

	killOnce sync.Once
	killed   chan struct{} // closed by Kill
	done     chan struct{} // closed once everything is reaped and cleaned
	err      error         // set before done closes
}

func (m *machine) ID() string            { return m.id }
func (m *machine) Pid() int              { return m.qemu.pid() }
func (m *machine) Done() <-chan struct{} { return m.done }

func (m *machine) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}

// supervise waits for QEMU, then for the virtiofsd helpers (they end when
// QEMU drops their vhost-user connection; a short grace, then SIGKILL), and
// removes the sockets.
func (m *machine) supervise() {
	<-m.qemu.exited
	grace := time.NewTimer(2 * time.Second)
	defer grace.Stop()
	for _, f := range m.fsds {
		select {
		case <-f.exited:
		case <-grace.C:
			f.kill()
			<-f.exited
		}
	}
	m.removeRuntimeFiles()
	switch {
	case isClosed(m.killed):
		m.err = errKilled
	default:
		m.err = m.qemu.exitError("qemu")
	}
	close(m.done)
}

// removeRuntimeFiles deletes the sockets and pid files; the logs stay.
func (m *machine) removeRuntimeFiles() {
	names := []string{agentSocketName, qemuPidName, qmpSocketName}
	for i := range m.fsds {
		names = append(names, shareSocketName(i), virtiofsdPidName(i))
	}
	for _, n := range names {
		_ = os.Remove(filepath.Join(m.stateDir, n))
	}
}

// Kill ends QEMU and the virtiofsd helpers and waits until they are reaped
// and the sockets removed.
func (m *machine) Kill() error {
	m.killOnce.Do(func() {
		if !isClosed(m.done) {
			close(m.killed)
		}
		m.qemu.kill()
		for _, f := range m.fsds {
			f.kill()
		}
	})
	select {
	case <-m.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("vm %s: processes not gone 30 s after SIGKILL", m.id)
	}
}

// DialAgent connects to the agent port's socket, retrying while QEMU has
// not created it yet, until ctx ends or the VM exits.
func (m *machine) DialAgent(ctx context.Context) (net.Conn, error) {
	for {
		conn, err := dialUnixIn(ctx, m.stateDir, agentSocketName)
		if err == nil {
			return conn, nil
		}
		if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("vm %s: dial agent: %w", m.id, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("vm %s: dial agent: %w", m.id, ctx.Err())
		case <-m.done:
			return nil, errdefs.Unavailable(fmt.Errorf("vm %s: dial agent: vm exited", m.id))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// dialUnixIn connects to the unix socket name in dir. A path too long for
// sun_path goes through /proc/self/fd/<dir fd>/name instead.
func dialUnixIn(ctx context.Context, dir, name string) (net.Conn, error) {
	var d net.Dialer
	path := filepath.Join(dir, name)
	if len(path) < 100 {
		return d.DialContext(ctx, "unix", path)
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", f.Fd(), name))
}
