//go:build linux

// Package agent serves the guest side of guest/proto inside a VM: it runs
// the container's main process and exec'd processes with Docker's
// semantics (argv exec'd directly, PATH lookup, user and groups from the
// container's /etc/passwd and /etc/group, working directory, TTY), streams
// their output, forwards signals and reports exit statuses. It also serves
// the file operations (files.go: stat, tar out, tar in, the writable
// layer's changes, export) and the views of a running container (stats.go,
// processes.go: counters and processes read from /proc and /sys).
package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/guest/proto"
)

// Hooks are what PID 1 plugs into the agent.
type Hooks struct {
	// SetupContainer prepares the container root (mounts, switch root)
	// before the main process starts.
	SetupContainer func(spec *proto.ContainerSpec) error
	// MainExited runs after the main process exited and its output was sent,
	// before its status goes to the host (stop the rest, sync disks).
	MainExited func()
	// RecordExit writes the main process's exit status (JSON) where the
	// host finds it even when it was away when the process ended and the
	// VM is gone by the time it is back (the serial console).
	RecordExit func(status []byte)
	// PowerOff ends the VM; called after a host acknowledged the main
	// process's status, or on a shutdown request.
	PowerOff func()
	// MountRoot prepares the container root (disks, overlay, volumes,
	// switch root) for file operations without starting a process: a
	// maintenance VM of a container that is not running.
	MountRoot func(spec *proto.ContainerSpec) error
	// Layers returns the overlay's upper directory and the image's root
	// (lower) as the agent can reach them ("" before they are mounted).
	Layers func() (upper, lower string)
}

// Agent serves one connection.
type Agent struct {
	root           string
	setCredentials bool
	reaper         *Reaper
	hooks          Hooks
	kernelRelease  string

	mu          sync.Mutex
	mainStarted bool
	// stdins holds the running processes whose stdin is open, by pid, until
	// the host attaches a stream to it (OpStdin).
	stdins map[int]*process
	// main is the container's main process once started; session is the
	// host's session that started or last reattached to it, over which
	// forwarded sockets' connections go.
	main    *mainProcess
	session *yamux.Session
}

// Option tunes an Agent.
type Option func(*Agent)

// WithRoot runs processes below dir instead of "/" (tests).
func WithRoot(dir string) Option { return func(a *Agent) { a.root = dir } }

// WithoutCredentials keeps processes as the agent's own user (tests that
// do not run as root).
func WithoutCredentials() Option { return func(a *Agent) { a.setCredentials = false } }

// New returns an agent.
func New(reaper *Reaper, hooks Hooks, kernelRelease string, opts ...Option) *Agent {
	a := &Agent{root: "/", setCredentials: true, reaper: reaper, hooks: hooks, kernelRelease: kernelRelease, stdins: map[int]*process{}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Serve serves the protocol on conn until the host goes away. Each
// connection is a session of its own: Serve may run for several
// connections at once (vsock, where the vz shim connects for the daemon
// and on its own to ask for a shutdown); streams the guest opens towards
// the host (forwarded sockets) go over the session that started the
// container.
func (a *Agent) Serve(conn io.ReadWriteCloser) error {
	conn, err := proto.AcceptSync(conn)
	if err != nil {
		return err
	}
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.LogOutput = io.Discard
	cfg.MaxStreamWindowSize = 1 << 20
	session, err := yamux.Server(conn, cfg)
	if err != nil {
		return err
	}
	defer session.Close()
	for {
		stream, err := session.Accept()
		if err != nil {
			return err
		}
		go a.handle(session, stream)
	}
}

func (a *Agent) handle(session *yamux.Session, stream net.Conn) {
	var req proto.Request
	if err := proto.ReadMessage(stream, &req); err != nil {
		stream.Close()
		return
	}
	switch req.Op {
	case proto.OpHello:
		proto.WriteMessage(stream, proto.Response{Hello: &proto.HelloInfo{Version: proto.Version, KernelRelease: a.kernelRelease, Arch: runtime.GOARCH}})
		stream.Close()
	case proto.OpPing:
		proto.WriteMessage(stream, proto.Response{})
		stream.Close()
	case proto.OpShutdown:
		proto.WriteMessage(stream, proto.Response{})
		stream.Close()
		if a.hooks.PowerOff != nil {
			a.hooks.PowerOff()
		}
	case proto.OpStart:
		a.serveStart(session, stream, req.Container)
	case proto.OpExec:
		if req.Process == nil {
			fail(stream, errors.New("exec without a process"))
			return
		}
		a.serveProcess(stream, *req.Process)
	case proto.OpReattach:
		a.serveReattach(session, stream, req.Offsets)
	case proto.OpStdin:
		a.serveStdin(session, stream, req.Pid)
	case proto.OpMountRoot:
		a.serveMountRoot(stream, req.Container)
	case proto.OpStatPath:
		a.serveStatPath(stream, req.Path)
	case proto.OpArchive:
		a.serveArchive(stream, req.Path)
	case proto.OpExtract:
		a.serveExtract(stream, req.Path, req.Extract)
	case proto.OpChanges:
		a.serveChanges(stream)
	case proto.OpExport:
		a.serveExport(stream)
	case proto.OpLayer:
		a.serveLayer(stream, req.Freeze)
	case proto.OpStats:
		a.serveStats(stream)
	case proto.OpProcesses:
		a.serveProcesses(stream)
	case proto.OpSetClock:
		a.serveSetClock(stream, req.Clock)
	default:
		fail(stream, fmt.Errorf("unknown operation %q", req.Op))
	}
}

// claimRoot marks the container root as set up, once per VM: a start and
// a maintenance mount exclude each other. A second claim fails the stream
// with msg.
func (a *Agent) claimRoot(stream net.Conn, msg string) bool {
	a.mu.Lock()
	already := a.mainStarted
	a.mainStarted = true
	a.mu.Unlock()
	if already {
		fail(stream, errors.New(msg))
	}
	return !already
}

func fail(stream net.Conn, err error) {
	proto.WriteMessage(stream, proto.Response{Error: err.Error()})
	stream.Close()
}

func (a *Agent) serveStart(session *yamux.Session, stream net.Conn, spec *proto.ContainerSpec) {
	if spec == nil {
		fail(stream, errors.New("start without a container"))
		return
	}
	if !a.claimRoot(stream, "the container's main process was already started") {
		return
	}
	if a.hooks.SetupContainer != nil {
		if err := a.hooks.SetupContainer(spec); err != nil {
			fail(stream, err)
			return
		}
	}
	a.setHostSession(session)
	if len(spec.Sockets) > 0 {
		if err := a.forwardSockets(spec.Sockets); err != nil {
			fail(stream, err)
			return
		}
	}
	a.serveMain(stream, spec.Process)
}

// outputGrace bounds how long output may keep flowing after the process
// exited (a background child can hold the pipe open forever).
const outputGrace = 3 * time.Second

// serveProcess runs an exec'd process: its output and exit status go to
// stream, and end with it (the main process goes through a journal
// instead: main.go).
func (a *Agent) serveProcess(stream net.Conn, spec proto.ProcessSpec) {
	p, err := a.start(spec)
	if err != nil {
		proto.WriteMessage(stream, startErrorResponse(err))
		stream.Close()
		return
	}
	var writeMu sync.Mutex
	send := func(t proto.FrameType, b []byte) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		return proto.WriteFrame(stream, t, b)
	}
	oomBefore := oomKills()
	pid := p.cmd.Process.Pid
	if p.stdin != nil {
		a.mu.Lock()
		a.stdins[pid] = p
		a.mu.Unlock()
		defer a.takeStdin(pid)
	}
	if err := proto.WriteMessage(stream, proto.Response{Pid: pid}); err != nil {
		p.cmd.Process.Kill()
	}
	outputDone := p.copyOutput(send)
	go a.readControl(stream, p, false, nil)

	status := p.wait(oomBefore, false)
	waitTimeout(outputDone, outputGrace)
	p.closeOutput()
	if p.stdin != nil && p.stdin != p.tty {
		p.stdin.Close()
	}
	sendExit(send, status)
	stream.Close()
}

// wait waits for p to end and says how. As dockerd reports a container's
// cgroup: any OOM kill in the VM while the main process ran (a child of
// it, say) marks the main process's end OOMKilled; for an exec, only its
// own SIGKILL does.
func (p *process) wait(oomBefore int64, main bool) proto.ExitStatus {
	ws := <-p.status
	status := exitStatus(ws)
	oomed := oomBefore >= 0 && oomKills() > oomBefore
	if oomed && (main || ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
		status.OOMKilled = true
	}
	return status
}

func sendExit(send func(proto.FrameType, []byte) error, status proto.ExitStatus) error {
	b, _ := json.Marshal(status)
	return send(proto.FrameExit, b)
}

// readControl applies the host's frames (resize, signals, the exit
// status's acknowledgement) until the host closes the stream. The main
// process gets signals as the init of a PID namespace gets them from
// outside (see deliverableToInit).
func (a *Agent) readControl(stream net.Conn, p *process, main bool, ack func()) {
	for {
		t, payload, err := proto.ReadFrame(stream)
		if err != nil {
			return
		}
		switch t {
		case proto.FrameResize:
			var r proto.Resize
			if json.Unmarshal(payload, &r) == nil && p.tty != nil {
				pty.Setsize(p.tty, &pty.Winsize{Rows: r.Height, Cols: r.Width})
			}
		case proto.FrameSignal:
			var s proto.Signal
			if json.Unmarshal(payload, &s) == nil && s.Signal > 0 {
				sig := syscall.Signal(s.Signal)
				if main && !deliverableToInit(p.cmd.Process.Pid, sig) {
					continue
				}
				p.cmd.Process.Signal(sig)
			}
		case proto.FrameExitAck:
			if ack != nil {
				ack()
			}
		}
	}
}

// takeStdin removes and returns the process with pid whose stdin is open
// and not yet attached.
func (a *Agent) takeStdin(pid int) *process {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.stdins[pid]
	delete(a.stdins, pid)
	return p
}

// serveStdin copies the host's stdin stream into the process's stdin; the
// host's half-close closes a pipe (a terminal stays open, as in Docker,
// where closing a TTY's stdin does not end the shell).
func (a *Agent) serveStdin(session *yamux.Session, stream net.Conn, pid int) {
	p := a.takeStdin(pid)
	if p == nil {
		fail(stream, fmt.Errorf("process %d has no stdin to attach (exited, not started with OpenStdin, or already attached)", pid))
		return
	}
	defer stream.Close()
	if err := proto.WriteMessage(stream, proto.Response{Pid: pid}); err != nil {
		a.keepStdin(pid, p)
		return
	}
	io.Copy(p.stdin, stream)
	if session.IsClosed() && a.isMain(pid) {
		// The host went away, it did not close the stdin: the next host
		// that reattaches attaches it again.
		a.keepStdin(pid, p)
		return
	}
	if p.tty == nil {
		p.stdin.Close()
	}
}

// keepStdin offers p's stdin for the next OpStdin.
func (a *Agent) keepStdin(pid int, p *process) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stdins[pid] = p
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
