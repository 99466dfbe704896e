package vz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/guest/proto"
)

// TestMain lets the test binary act as the shim: `<test binary> vz-shim
// --state-dir DIR` with PIER_VZ_FAKE_SHIM=1 runs runShim over fakeBoot.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "vz-shim" && os.Args[2] == "--state-dir" && os.Getenv("PIER_VZ_FAKE_SHIM") == "1" {
		log := slog.New(slog.NewTextHandler(os.Stderr, nil))
		if os.Getenv("PIER_VZ_FAKE_FAST_STOP") == "1" {
			defaultStopTimes = stopTimes{agent: 300 * time.Millisecond, grace: 300 * time.Millisecond, kill: 300 * time.Millisecond}
		}
		if err := runShim(context.Background(), os.Args[3], fakeBoot, log); err != nil {
			fmt.Fprintln(os.Stderr, "shim:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeVM stands in for a VM whose guest runs a small agent on vsock port
// proto.AgentVsockPort: it answers hello and ping, and powers the VM off
// on a shutdown request. Its behaviour comes from the Spec's Cmdline:
// "fail-boot" makes boot fail, "agent-late" makes the agent listen only
// 300 ms after boot (connects fail until then), "no-agent" never listens,
// "ignore-shutdown" answers a shutdown but never powers off, "kill-hangs"
// makes a hard stop never complete.
type fakeVM struct {
	listenAt time.Time
	noAgent  bool
	ignore   bool
	hang     bool
	dials    atomic.Int32
	once     sync.Once
	done     chan struct{}
	err      error
	paused   atomic.Bool
}

func newFakeVM(cmdline string) *fakeVM {
	v := &fakeVM{done: make(chan struct{}), listenAt: time.Now(),
		noAgent: strings.Contains(cmdline, "no-agent"), ignore: strings.Contains(cmdline, "ignore-shutdown"),
		hang: strings.Contains(cmdline, "kill-hangs")}
	if strings.Contains(cmdline, "agent-late") {
		v.listenAt = v.listenAt.Add(300 * time.Millisecond)
	}
	return v
}

func fakeBoot(_ context.Context, cfg shimConfig) (controller, error) {
	if strings.Contains(cfg.Spec.Cmdline, "fail-boot") {
		return nil, errors.New("fake boot failed on purpose")
	}
	if !strings.Contains(kernelCmdline(cfg.Spec), proto.CmdlineAgent+"="+proto.AgentVsock) {
		return nil, errors.New("the kernel command line does not put the agent on vsock")
	}
	if t := cfg.Template; t != nil && !t.Save {
		// A restore: the template's files must be what SaveTemplate wrote.
		state, err := os.ReadFile(t.State)
		if err != nil || string(state) != fakeState {
			return nil, fmt.Errorf("restore: the state is not a saved fake vm (%q, %v)", state, err)
		}
		id, err := os.ReadFile(t.MachineID)
		if err != nil || string(id) != fakeMachineID {
			return nil, fmt.Errorf("restore: machine identifier %q, %v", id, err)
		}
	}
	return newFakeVM(cfg.Spec.Cmdline), nil
}

// What the fake VM saves as a template.
const (
	fakeState     = "fake vm state"
	fakeMachineID = "fake machine id"
)

// SaveTemplate writes the fake's state and identifier.
func (v *fakeVM) SaveTemplate(t shimTemplate) error {
	if err := os.WriteFile(t.MachineID, []byte(fakeMachineID), 0o600); err != nil {
		return err
	}
	return os.WriteFile(t.State, []byte(fakeState), 0o600)
}

// DialGuest connects to the fake agent when it listens on the agent's port.
func (v *fakeVM) DialGuest(port uint32) (net.Conn, error) {
	v.dials.Add(1)
	if isClosed(v.done) {
		return nil, errors.New("vm stopped")
	}
	if port != proto.AgentVsockPort || v.noAgent || time.Now().Before(v.listenAt) {
		return nil, fmt.Errorf("connection reset by peer (port %d)", port)
	}
	host, guest := net.Pipe()
	go v.serveAgent(guest)
	return host, nil
}

// serveAgent is the fake guest agent: one yamux session per connection.
func (v *fakeVM) serveAgent(conn net.Conn) {
	defer conn.Close()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	rwc, err := proto.AcceptSync(conn)
	if err != nil {
		return
	}
	s, err := yamux.Server(rwc, cfg)
	if err != nil {
		return
	}
	go func() {
		<-v.done
		s.Close()
	}()
	for {
		st, err := s.Accept()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var req proto.Request
			if proto.ReadMessage(st, &req) != nil {
				return
			}
			switch req.Op {
			case proto.OpHello:
				proto.WriteMessage(st, proto.Response{Hello: &proto.HelloInfo{Version: proto.Version, Arch: "arm64"}})
			case proto.OpPing:
				proto.WriteMessage(st, proto.Response{})
			case proto.OpShutdown:
				proto.WriteMessage(st, proto.Response{})
				if !v.ignore {
					v.end(nil)
				}
			default:
				proto.WriteMessage(st, proto.Response{Error: "unknown op " + req.Op})
			}
		}()
	}
}

func (v *fakeVM) end(err error) {
	v.once.Do(func() {
		v.err = err
		close(v.done)
	})
}

func (v *fakeVM) State() string {
	if isClosed(v.done) {
		return stateStopped
	}
	if v.paused.Load() {
		return "paused"
	}
	return stateRunning
}

// Pause and Resume flip the state the shim reports.
func (v *fakeVM) Pause() error { v.paused.Store(true); return nil }

func (v *fakeVM) Resume() error { v.paused.Store(false); return nil }

// Kill stops it hard (or, with kill-hangs, never completes).
func (v *fakeVM) Kill() error {
	if v.hang {
		select {}
	}
	v.end(errors.New("stopped hard"))
	return nil
}

func (v *fakeVM) Done() <-chan struct{} { return v.done }

func (v *fakeVM) Err() error {
	if !isClosed(v.done) {
		return nil
	}
	return v.err
}
