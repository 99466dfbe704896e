package qemu

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/sys/atomicwriter"
	"golang.org/x/sys/unix"
)

// helper is a child process (QEMU or virtiofsd) started in its own session,
// so that it survives the daemon and can be killed as a group.
type helper struct {
	cmd *exec.Cmd // nil for a helper adopted from a previous daemon
	// adoptedPid is an adopted helper's pid.
	adoptedPid int
	pidFile    string
	logPath    string
	exited     chan struct{} // closed once reaped
	err        error         // Wait's result, set before exited closes
}

// startingMark is a pid file's content while its helper starts.
const startingMark = "starting\n"

// startHelper starts bin in dir with its output appended to logPath and
// records its pid in pidFile (atomically). extra files become the child's
// fds 3, 4, ...
func startHelper(bin string, args []string, dir, logPath, pidFile string, extra ...*os.File) (*helper, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own copy
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = extra
	// Until the pid is known the pid file says a start is under way: a
	// daemon killed before the pid is recorded leaves that word, and the
	// next one looks for the process by its working directory instead
	// (KillLeftovers). No sync: only the daemon's death is guarded here.
	if err := os.WriteFile(pidFile, []byte(startingMark), 0o600); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = os.Remove(pidFile)
		return nil, fmt.Errorf("start %s: %w", filepath.Base(bin), err)
	}
	h := &helper{cmd: cmd, pidFile: pidFile, logPath: logPath, exited: make(chan struct{})}
	go func() {
		h.err = cmd.Wait()
		close(h.exited)
	}()
	if err := writeFileAtomic(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n")); err != nil {
		h.kill()
		<-h.exited
		return nil, err
	}
	return h, nil
}

func (h *helper) pid() int {
	if h.cmd == nil {
		return h.adoptedPid
	}
	return h.cmd.Process.Pid
}

// kill sends SIGKILL to the helper's process group (its session leader is
// the helper itself), then to the helper, in case it left its group.
func (h *helper) kill() {
	select {
	case <-h.exited:
		return
	default:
	}
	pid := h.pid()
	_ = unix.Kill(-pid, unix.SIGKILL)
	_ = unix.Kill(pid, unix.SIGKILL)
}

// logTail returns the last lines of the helper's output, for error messages.
func (h *helper) logTail() string {
	b, err := os.ReadFile(h.logPath)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// exitError describes how a helper ended, with its log's tail.
func (h *helper) exitError(what string) error {
	if h.err == nil {
		return nil
	}
	var ee *exec.ExitError
	msg := h.err.Error()
	if errors.As(h.err, &ee) {
		msg = ee.ProcessState.String()
	}
	if tail := h.logTail(); tail != "" {
		return fmt.Errorf("%s: %s: %s", what, msg, tail)
	}
	return fmt.Errorf("%s: %s", what, msg)
}

// writeFileAtomic replaces path with data (temporary file, sync, rename),
// so a crash leaves the old content or the new, never a torn file.
func writeFileAtomic(path string, data []byte) error {
	return atomicwriter.WriteFile(path, data, 0o600)
}
