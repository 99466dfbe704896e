package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/digitalocean/go-qemu/qmp"
)

// monitor is a QMP connection to one QEMU (github.com/digitalocean/go-qemu)
// with its events drained, so that a slow reader never stalls a command.
type monitor struct {
	mon    *qmp.SocketMonitor
	events chan qmp.Event
}

// dialMonitor connects to the QMP socket in dir, retrying while QEMU has
// not created it yet, until ctx ends or exited closes.
func dialMonitor(ctx context.Context, dir string, exited <-chan struct{}) (*monitor, error) {
	for {
		mon, err := newSocketMonitorIn(dir, qmpSocketName)
		if err == nil {
			if err = mon.Connect(); err == nil {
				return startMonitor(mon)
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qmp: %w (last error: %v)", ctx.Err(), err)
		case <-exited:
			return nil, errors.New("qmp: qemu exited")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// newSocketMonitorIn dials the unix socket name in dir, through
// /proc/self/fd when the path is too long for sun_path.
func newSocketMonitorIn(dir, name string) (*qmp.SocketMonitor, error) {
	path := filepath.Join(dir, name)
	if len(path) >= 100 {
		f, err := os.Open(dir)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		path = fmt.Sprintf("/proc/self/fd/%d/%s", f.Fd(), name)
	}
	return qmp.NewSocketMonitor("unix", path, 2*time.Second)
}

func startMonitor(mon *qmp.SocketMonitor) (*monitor, error) {
	in, err := mon.Events(context.Background())
	if err != nil {
		mon.Disconnect()
		return nil, err
	}
	m := &monitor{mon: mon, events: make(chan qmp.Event, 256)}
	go func() {
		defer close(m.events)
		for e := range in {
			select {
			case m.events <- e:
			default: // nobody waits for events this old
			}
		}
	}()
	return m, nil
}

// run executes a QMP command and decodes its return value into out
// (unless nil).
func (m *monitor) run(command string, args any, out any) error {
	b, err := json.Marshal(qmp.Command{Execute: command, Args: args})
	if err != nil {
		return err
	}
	raw, err := m.mon.Run(b)
	if err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	if out == nil {
		return nil
	}
	var resp struct {
		Return json.RawMessage `json:"return"`
	}
	if err := json.Unmarshal(raw, &resp); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	return json.Unmarshal(resp.Return, out)
}

// waitEvent waits for an event that match accepts.
func (m *monitor) waitEvent(ctx context.Context, exited <-chan struct{}, match func(qmp.Event) bool) error {
	for {
		select {
		case e, ok := <-m.events:
			if !ok {
				return errors.New("qmp: connection closed")
			}
			if match(e) {
				return nil
			}
		case <-exited:
			return errors.New("qemu exited")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitStatus polls query-status until the VM's run state is want.
func (m *monitor) waitStatus(ctx context.Context, exited <-chan struct{}, want string) error {
	var last string
	return m.poll(ctx, exited, func() (bool, error) {
		var st struct {
			Status string `json:"status"`
		}
		err := m.run("query-status", nil, &st)
		last = st.Status
		return st.Status == want, err
	}, func() string { return fmt.Sprintf("still %q", last) })
}

// poll calls check every 5 ms until it is done or fails, QEMU exits (the
// error names what describe says), or ctx ends.
func (m *monitor) poll(ctx context.Context, exited <-chan struct{}, check func() (bool, error), describe func() string) error {
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-exited:
			return fmt.Errorf("qemu exited (%s)", describe())
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", describe(), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// setIgnoreShared skips RAM in a shared file when saving, and expects it
// skipped when restoring: the template's RAM file is the RAM.
func (m *monitor) setIgnoreShared() error {
	return m.run("migrate-set-capabilities", map[string]any{
		"capabilities": []map[string]any{{"capability": "x-ignore-shared", "state": true}},
	}, nil)
}

func (m *monitor) close() { _ = m.mon.Disconnect() }
