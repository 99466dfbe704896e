package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// KillLeftovers ends what a previous daemon that was killed (SIGKILL, a
// crash) left running in stateDir: QEMU and virtiofsd run in sessions of
// their own and outlive it, on the container's disks. A helper is known
// by its pid file; it is only killed when that process still runs in
// stateDir (its working directory), so a reused pid is never hit. It
// returns how many processes it killed, once they are gone, and removes
// their sockets and pid files.
func (d *Driver) KillLeftovers(ctx context.Context, stateDir string) (int, error) {
	pidFiles, _ := filepath.Glob(filepath.Join(stateDir, "*.pid"))
	var live []int
	for _, f := range pidFiles {
		pid, ok := leftoverPid(f, stateDir)
		if ok {
			live = append(live, pid)
		}
	}
	for _, pid := range live {
		_ = unix.Kill(-pid, unix.SIGKILL) // its session's group
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	for _, pid := range live {
		if err := waitGone(ctx, pid); err != nil {
			return 0, fmt.Errorf("leftover process %d in %s: %w", pid, stateDir, err)
		}
	}
	if len(pidFiles) > 0 {
		names, _ := filepath.Glob(filepath.Join(stateDir, "*.sock"))
		for _, n := range append(names, pidFiles...) {
			_ = os.Remove(n)
		}
	}
	return len(live), nil
}

// leftoverPid reads a helper's pid file and says whether that process
// still runs with stateDir as its working directory.
func leftoverPid(pidFile, stateDir string) (int, bool) {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return 0, false
	}
	want, err := filepath.Abs(stateDir)
	if err != nil {
		return 0, false
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	return pid, filepath.Clean(cwd) == filepath.Clean(want)
}

// waitGone waits until pid no longer exists (a zombie of another parent
// counts as gone: it runs nothing).
func waitGone(ctx context.Context, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err == nil {
			s := string(b)
			if i := strings.LastIndexByte(s, ')'); i > 0 && strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z") {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("still running after SIGKILL")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
