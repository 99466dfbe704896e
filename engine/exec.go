package engine

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/docker/docker/pkg/stringid"

	"github.com/pier-vm/pier/errdefs"
)

// ExecConfig is `docker exec`'s request.
type ExecConfig struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Tty        bool
	// ConsoleSize is the initial terminal [height, width].
	ConsoleSize  [2]uint
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Privileged   bool
	DetachKeys   string
}

// ExecInfo is an exec as `docker exec` inspects it.
type ExecInfo struct {
	ID          string
	ContainerID string
	Config      ExecConfig
	Running     bool
	// ExitCode is nil until the process ended.
	ExitCode *int
	Pid      int
	// CanRemove is set once the exec ended.
	CanRemove bool
}

// exitCodeLost is the exit code of an exec whose status was lost (its VM
// went away under it): a SIGKILL death, as far as clients can tell.
const exitCodeLost = 137

type execInstance struct {
	id          string
	containerID string
	cfg         ExecConfig

	mu       sync.Mutex
	started  bool
	running  bool
	exitCode *int
	pid      int
	proc     Process
}

// ExecCreate registers an exec in a running container and returns its ID.
func (s *Containers) ExecCreate(ref string, cfg ExecConfig) (string, error) {
	if len(cfg.Cmd) == 0 {
		return "", errdefs.InvalidParameterf("No exec command specified")
	}
	x, err := s.get(ref)
	if err != nil {
		return "", err
	}
	x.mu.Lock()
	c, running, restarting := x.c, x.run != nil, x.restarts.pending != nil
	x.mu.Unlock()
	if restarting {
		return "", errRestarting(c.ID)
	}
	if !running {
		return "", errNotRunning(c.ID)
	}
	if c.State.Paused {
		return "", errExecPaused(ref)
	}
	e := &execInstance{id: stringid.GenerateRandomID(), containerID: c.ID, cfg: cfg}
	s.mu.Lock()
	s.execs[e.id] = e
	s.mu.Unlock()
	x.mu.Lock()
	x.execIDs = append(append([]string(nil), x.execIDs...), e.id)
	x.mu.Unlock()
	s.publish(c, "exec_create: "+strings.Join(cfg.Cmd, " "), map[string]string{"execID": e.id})
	return e.id, nil
}

func (s *Containers) getExec(id string) (*execInstance, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.execs[id]
	if !ok {
		return nil, errdefs.NotFoundf("No such exec instance: %s", id)
	}
	return e, nil
}

// ExecInspect returns an exec by ID.
func (s *Containers) ExecInspect(id string) (*ExecInfo, error) {
	e, err := s.getExec(id)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return &ExecInfo{
		ID:          e.id,
		ContainerID: e.containerID,
		Config:      e.cfg,
		Running:     e.running,
		ExitCode:    e.exitCode,
		Pid:         e.pid,
		CanRemove:   e.exitCode != nil,
	}, nil
}

// ExecStartOptions connect an exec to its client. Streams the exec was not
// created to attach are ignored.
type ExecStartOptions struct {
	// Detach returns as soon as the process runs.
	Detach bool
	// ConsoleSize overrides the creation's terminal size.
	ConsoleSize *[2]uint
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
}

// ExecStart runs the exec; unless detached it returns when the process
// ended and its output was written.
func (s *Containers) ExecStart(ctx context.Context, id string, opts ExecStartOptions) error {
	e, err := s.getExec(id)
	if err != nil {
		return err
	}
	x, err := s.get(e.containerID)
	if err != nil {
		return err
	}
	x.mu.Lock()
	c, r := x.c, x.run
	x.mu.Unlock()
	// As dockerd, the container's state is checked first: an exec refused
	// because its container is paused can be started after the unpause.
	if r != nil && c.State.Paused {
		return errExecPaused(c.ID)
	}
	e.mu.Lock()
	if e.started {
		e.mu.Unlock()
		return errdefs.Conflictf("Error: Exec command %s is already running", id)
	}
	e.started = true
	e.mu.Unlock()
	if r == nil {
		return errNotRunning(c.ID)
	}
	spec := ProcessSpec{
		Args:        e.cfg.Cmd,
		Env:         mergeEnv(processEnv(c), e.cfg.Env),
		WorkingDir:  firstNonEmpty(e.cfg.WorkingDir, c.Config.WorkingDir),
		User:        firstNonEmpty(e.cfg.User, c.Config.User),
		Groups:      c.HostConfig.GroupAdd,
		Tty:         e.cfg.Tty,
		ConsoleSize: e.cfg.ConsoleSize,
	}
	if opts.ConsoleSize != nil {
		spec.ConsoleSize = *opts.ConsoleSize
	}
	var stdio Stdio
	if e.cfg.AttachStdin {
		stdio.Stdin = opts.Stdin
	}
	if e.cfg.AttachStdout {
		stdio.Stdout = opts.Stdout
	}
	if e.cfg.AttachStderr {
		stdio.Stderr = opts.Stderr
	}
	s.publish(c, "exec_start: "+strings.Join(e.cfg.Cmd, " "), map[string]string{"execID": e.id})
	proc, err := r.sandbox.Exec(ctx, ExecRequest{ID: e.id, Process: spec, Stdio: stdio})
	if err != nil {
		code := 126
		e.mu.Lock()
		e.exitCode = &code
		e.mu.Unlock()
		return err
	}
	e.mu.Lock()
	e.proc, e.pid, e.running = proc, proc.Pid(), true
	e.mu.Unlock()

	wait := func() {
		status, err := proc.Wait(context.Background())
		code := status.Code
		if err != nil {
			code = exitCodeLost
		}
		e.mu.Lock()
		e.running, e.exitCode = false, &code
		e.mu.Unlock()
		s.publish(c, "exec_die", map[string]string{"execID": e.id, "exitCode": strconv.Itoa(code)})
	}
	if opts.Detach {
		go wait()
		return nil
	}
	wait()
	return nil
}

// ExecResize sets the terminal size of a running exec.
func (s *Containers) ExecResize(ctx context.Context, id string, height, width uint) error {
	e, err := s.getExec(id)
	if err != nil {
		return err
	}
	e.mu.Lock()
	proc, running := e.proc, e.running
	e.mu.Unlock()
	if !running {
		return errdefs.Conflictf("Exec %s is not running", id)
	}
	return proc.Resize(ctx, height, width)
}
