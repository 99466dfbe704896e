// Package fakeruntime is an in-memory engine.Runtime for tests: no VM, each
// process is a goroutine interpreting a tiny script taken from its argv.
//
// Script words (several commands may be chained with a ";" argument):
//
//	echo WORDS...    write WORDS and a newline to stdout
//	stderr WORDS...  write WORDS and a newline to stderr
//	sleep N          wait N seconds ("inf": forever) or until a signal
//	cat              copy stdin to stdout until EOF
//	trap             from now on, ignore SIGTERM and SIGINT
//	exit N           end with code N
//
// Anything else prints "<cmd>: not found" to stderr and exits 127 at once.
// Each container also has an in-memory file system (files.go) for the file
// operations, and OpenFiles refuses a maintenance session while the
// container runs, as Start refuses to run while one is open.
// A fatal signal ends the process with 128+signal. A process that reaches
// the end of its script exits 0.
package fakeruntime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine"
)

// Runtime is the fake. The zero value is not usable; call New.
type Runtime struct {
	mu sync.Mutex
	// StartErr, when set, makes every Start fail with it.
	StartErr error
	// PauseErr, when set, makes the Pause and Resume of sandboxes started
	// afterwards fail with it.
	PauseErr error
	starts   []engine.RunRequest
	nextPid  int
	// files are the containers' files; sessions counts the open
	// maintenance sessions and running the running sandboxes, by
	// container; opened counts every session opened.
	files    map[string]*memFS
	sessions map[string]int
	running  map[string]bool
	opened   int
}

var _ engine.Runtime = (*Runtime)(nil)

// New returns a fake runtime.
func New() *Runtime {
	return &Runtime{nextPid: 1000, files: map[string]*memFS{}, sessions: map[string]int{}, running: map[string]bool{}}
}

// Starts returns the requests Start received, in order.
func (r *Runtime) Starts() []engine.RunRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]engine.RunRequest(nil), r.starts...)
}

// Start runs the request's process as a goroutine.
func (r *Runtime) Start(ctx context.Context, req engine.RunRequest) (engine.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.StartErr != nil {
		return nil, r.StartErr
	}
	if len(req.Process.Args) == 0 {
		return nil, errors.New("fakeruntime: no command specified")
	}
	// (A sandbox left by a daemon restart, see TestRestartFromDisk, is
	// taken as gone.)
	if r.sessions[req.ContainerID] > 0 {
		return nil, fmt.Errorf("fakeruntime: the writable disk of %s is in use by a maintenance session", req.ContainerID)
	}
	if err := touch(req.WritableDisk); err != nil {
		return nil, err
	}
	r.starts = append(r.starts, req)
	r.nextPid++
	r.running[req.ContainerID] = true
	sb := &sandbox{hostPid: r.nextPid, done: make(chan struct{}), nextPid: 1, files: r.filesOf(req.ContainerID), started: time.Now(), pauseErr: r.PauseErr}
	sb.release = func() {
		r.mu.Lock()
		delete(r.running, req.ContainerID)
		r.mu.Unlock()
	}
	sb.process = sb.spawn(req.Process, req.Stdio)
	go func() {
		<-sb.process.exited
		_ = sb.Kill()
	}()
	return sb, nil
}

type sandbox struct {
	*process
	hostPid  int
	files    *memFS
	release  func()
	pauseErr error

	mu      sync.Mutex
	nextPid int
	procs   []*process
	killed  bool
	done    chan struct{}
	// gate holds signals while the sandbox is paused; samples counts
	// Stats calls.
	gate    pauseGate
	samples uint64
	started time.Time
}

func (s *sandbox) HostPid() int          { return s.hostPid }
func (s *sandbox) Files() engine.Files   { return s.files }
func (s *sandbox) Done() <-chan struct{} { return s.done }

func (s *sandbox) Exec(ctx context.Context, req engine.ExecRequest) (engine.Process, error) {
	s.mu.Lock()
	killed := s.killed
	s.mu.Unlock()
	if killed {
		return nil, errors.New("fakeruntime: sandbox is gone")
	}
	if len(req.Process.Args) == 0 {
		return nil, errors.New("fakeruntime: no command specified")
	}
	return s.spawn(req.Process, req.Stdio), nil
}

func (s *sandbox) Kill() error {
	s.mu.Lock()
	if s.killed {
		s.mu.Unlock()
		<-s.done // whoever kills releases the disk before returning
		return nil
	}
	s.killed = true
	procs := append([]*process(nil), s.procs...)
	s.mu.Unlock()
	for _, p := range procs {
		p.deliver(syscall.SIGKILL)
		<-p.exited
	}
	s.release()
	close(s.done)
	return nil
}

func (s *sandbox) spawn(spec engine.ProcessSpec, stdio engine.Stdio) *process {
	s.mu.Lock()
	s.nextPid++
	p := &process{
		pid:      s.nextPid,
		args:     spec.Args,
		gate:     &s.gate,
		signals:  make(chan syscall.Signal, 16),
		exited:   make(chan struct{}),
		stdinEOF: make(chan struct{}),
	}
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	go p.run(spec, stdio)
	return p
}

// process is one scripted process.
type process struct {
	pid      int
	args     []string
	gate     *pauseGate
	signals  chan syscall.Signal
	exited   chan struct{}
	status   engine.ExitStatus
	stdinMu  sync.Mutex
	stdinEOF chan struct{}
	closed   bool

	sizeMu sync.Mutex
	size   [2]uint
}

func (p *process) Pid() int { return p.pid }

func (p *process) Wait(ctx context.Context) (engine.ExitStatus, error) {
	select {
	case <-p.exited:
		return p.status, nil
	case <-ctx.Done():
		return engine.ExitStatus{}, ctx.Err()
	}
}

func (p *process) Signal(ctx context.Context, sig syscall.Signal) error {
	select {
	case <-p.exited:
		return errors.New("fakeruntime: process already finished")
	default:
	}
	if p.gate != nil && p.gate.hold(func() { p.deliver(sig) }) {
		return nil // delivered once the sandbox resumes
	}
	p.deliver(sig)
	return nil
}

func (p *process) deliver(sig syscall.Signal) {
	select {
	case p.signals <- sig:
	case <-p.exited:
	}
}

func (p *process) Resize(ctx context.Context, height, width uint) error {
	p.sizeMu.Lock()
	defer p.sizeMu.Unlock()
	p.size = [2]uint{height, width}
	return nil
}

// Size returns the last size set by Resize.
func (p *process) Size() [2]uint {
	p.sizeMu.Lock()
	defer p.sizeMu.Unlock()
	return p.size
}

func (p *process) CloseStdin() error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.stdinEOF)
	}
	return nil
}

// run interprets the script and records the exit status.
func (p *process) run(spec engine.ProcessSpec, stdio engine.Stdio) {
	stdout, stderr := orDiscard(stdio.Stdout), orDiscard(stdio.Stderr)
	if spec.Tty {
		stderr = stdout
	}
	code := p.interpret(splitCommands(spec.Args), stdio.Stdin, stdout, stderr)
	p.status = engine.ExitStatus{Code: code, ExitedAt: time.Now()}
	close(p.exited)
}

func (p *process) interpret(cmds [][]string, stdin io.Reader, stdout, stderr io.Writer) int {
	trapped := false
	fatal := func(sig syscall.Signal) bool {
		return sig == syscall.SIGKILL || !(trapped && (sig == syscall.SIGTERM || sig == syscall.SIGINT))
	}
	for _, cmd := range cmds {
		switch cmd[0] {
		case "echo":
			fmt.Fprintln(stdout, strings.Join(cmd[1:], " "))
		case "stderr":
			fmt.Fprintln(stderr, strings.Join(cmd[1:], " "))
		case "trap":
			trapped = true
		case "exit":
			if len(cmd) > 1 {
				n, _ := strconv.Atoi(cmd[1])
				return n
			}
			return 0
		case "sleep":
			if sig, ok := p.sleep(cmd, fatal); ok {
				return 128 + int(sig)
			}
		case "cat":
			if sig, ok := p.cat(stdin, stdout, fatal); ok {
				return 128 + int(sig)
			}
		default:
			fmt.Fprintf(stderr, "%s: not found\n", cmd[0])
			return 127
		}
	}
	return 0
}

// sleep waits; it reports the fatal signal that ended it, if any.
func (p *process) sleep(cmd []string, fatal func(syscall.Signal) bool) (syscall.Signal, bool) {
	var timeout <-chan time.Time
	if len(cmd) > 1 && cmd[1] != "inf" {
		secs, _ := strconv.ParseFloat(cmd[1], 64)
		t := time.NewTimer(time.Duration(secs * float64(time.Second)))
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-timeout:
			return 0, false
		case sig := <-p.signals:
			if fatal(sig) {
				return sig, true
			}
		}
	}
}

// cat copies stdin to stdout until EOF, CloseStdin or a fatal signal.
func (p *process) cat(stdin io.Reader, stdout io.Writer, fatal func(syscall.Signal) bool) (syscall.Signal, bool) {
	if stdin == nil {
		return 0, false
	}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(stdout, stdin)
		close(copied)
	}()
	for {
		select {
		case <-copied:
			return 0, false
		case <-p.stdinEOF:
			return 0, false
		case sig := <-p.signals:
			if fatal(sig) {
				return sig, true
			}
		}
	}
}

func splitCommands(args []string) [][]string {
	var out [][]string
	var cur []string
	for _, a := range args {
		if a == ";" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, a)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
