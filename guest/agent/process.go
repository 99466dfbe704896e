//go:build linux

package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/creack/pty"

	"github.com/pier-vm/pier/guest/proto"
)

// DefaultPath is the PATH a process gets when its environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// process is one started process and the host ends of its stdio.
type process struct {
	cmd    *exec.Cmd
	status <-chan statusT
	stdin  io.WriteCloser // nil when stdin is not open
	tty    *os.File       // pty master with Tty
	output []namedReader  // what to copy to the host
}

type namedReader struct {
	frame proto.FrameType
	r     io.ReadCloser
}

func envValue(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// resolveProgram finds argv[0] the way execvp does, in the PATH of env,
// below root.
func resolveProgram(root, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path, _ := envValue(env, "PATH")
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, name)
		if fi, err := os.Stat(filepath.Join(root, candidate)); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return candidate, nil
		}
	}
	return "", commandNotFoundError{fmt.Sprintf("exec: %q: executable file not found in $PATH", name)}
}

// commandNotFoundError is a command that is not in the container.
type commandNotFoundError struct{ msg string }

func (e commandNotFoundError) Error() string { return e.msg }

// startErrorResponse classifies why a process did not start, for the
// host: a missing command, one that cannot run, an unknown user.
func startErrorResponse(err error) proto.Response {
	resp := errorResponse(err)
	var nf commandNotFoundError
	var unknown unknownUserError
	switch {
	case errors.As(err, &nf):
		resp.Code = proto.CodeCommandNotFound
	case errors.As(err, &unknown):
		resp.Code = proto.CodeInvalid
	case errors.Is(err, fs.ErrPermission):
		resp.Code = proto.CodeCommandNotRunnable
	case errors.Is(err, fs.ErrNotExist):
		resp.Code = proto.CodeCommandNotFound
	}
	return resp
}

// buildEnv completes env the way Docker does: a PATH and a HOME.
func buildEnv(env []string, home string) []string {
	out := append([]string(nil), env...)
	if _, ok := envValue(out, "PATH"); !ok {
		out = append(out, "PATH="+DefaultPath)
	}
	if _, ok := envValue(out, "HOME"); !ok {
		out = append(out, "HOME="+home)
	}
	return out
}

// start starts spec below root (the agent runs chrooted, so root is "/"
// in the guest; tests use a directory).
func (a *Agent) start(spec proto.ProcessSpec) (*process, error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("no command specified")
	}
	id, err := LookupUser(a.root, spec.User)
	if err != nil {
		return nil, err
	}
	if err := id.AddGroups(a.root, spec.Groups); err != nil {
		return nil, err
	}
	env := buildEnv(spec.Env, id.Home)
	prog, err := resolveProgram(a.root, spec.Args[0], env)
	if err != nil {
		return nil, err
	}
	wd := spec.WorkingDir
	if wd == "" {
		wd = "/"
	}
	if err := os.MkdirAll(filepath.Join(a.root, wd), 0o755); err != nil {
		return nil, fmt.Errorf("cannot create working directory %s: %w", wd, err)
	}
	cmd := &exec.Cmd{
		Path: filepath.Join(a.root, prog),
		Args: spec.Args,
		Env:  env,
		Dir:  filepath.Join(a.root, wd),
		SysProcAttr: &syscall.SysProcAttr{
			Setsid: true,
		},
	}
	if a.setCredentials {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: id.Groups}
	}
	p := &process{cmd: cmd}
	var childEnds []*os.File
	defer func() {
		for _, f := range childEnds {
			f.Close()
		}
	}()
	if spec.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			return nil, fmt.Errorf("open pty: %w", err)
		}
		childEnds = append(childEnds, slave)
		if spec.Height > 0 && spec.Width > 0 {
			pty.Setsize(master, &pty.Winsize{Rows: spec.Height, Cols: spec.Width})
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		p.tty = master
		if spec.OpenStdin {
			p.stdin = master
		}
		p.output = []namedReader{{proto.FrameStdout, master}}
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return nil, err
		}
		childEnds = append(childEnds, outW, errW)
		cmd.Stdout, cmd.Stderr = outW, errW
		p.output = []namedReader{{proto.FrameStdout, outR}, {proto.FrameStderr, errR}}
		if spec.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				outR.Close()
				errR.Close()
				return nil, err
			}
			childEnds = append(childEnds, inR)
			cmd.Stdin = inR
			p.stdin = inW
		}
	}
	ch, err := a.reaper.Start(cmd)
	if err != nil {
		for _, o := range p.output {
			o.r.Close()
		}
		if p.stdin != nil && p.stdin != p.tty {
			p.stdin.Close()
		}
		return nil, fmt.Errorf("exec %s: %w", spec.Args[0], err)
	}
	p.status = ch
	return p, nil
}

type statusT = waitStatus

// copyOutput sends each output stream as frames until EOF (a pty reports
// EIO once every holder of the terminal has closed it).
func (p *process) copyOutput(send func(proto.FrameType, []byte) error) *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, o := range p.output {
		wg.Add(1)
		go func(o namedReader) {
			defer wg.Done()
			buf := make([]byte, 32<<10)
			for {
				n, err := o.r.Read(buf)
				if n > 0 {
					if send(o.frame, buf[:n]) != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(o)
	}
	return &wg
}

func (p *process) closeOutput() {
	for _, o := range p.output {
		o.r.Close()
	}
}
