package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/internal/atomicfile"
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
	torn := false
	for _, f := range pidFiles {
		pid, ok := leftoverPid(f, stateDir)
		if ok {
			live = append(live, pid)
		}
		torn = torn || startCutShort(f)
	}
	if torn {
		// A daemon killed between starting a helper and recording its
		// pid: whatever runs in stateDir is that helper.
		live = append(live, processesIn(stateDir)...)
		slices.Sort(live)
		live = slices.Compact(live)
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
	for _, f := range pidFiles {
		atomicfile.SweepTemps(f) // a pid write the killed daemon did not finish
	}
	return len(live), nil
}

// startCutShort says whether pidFile was left by a start that did not get
// as far as recording the pid (startHelper's mark, or less of it).
func startCutShort(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	return err == nil && strings.HasPrefix(startingMark, string(b))
}

// processesIn lists the processes whose working directory is dir.
func processesIn(dir string) []int {
	want := realPath(dir)
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 {
			continue
		}
		if cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); err == nil && filepath.Clean(cwd) == want {
			out = append(out, pid)
		}
	}
	return out
}

// realPath is dir made absolute, with symlinks resolved where it exists.
func realPath(dir string) string {
	want, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Clean(dir)
	}
	if real, err := filepath.EvalSymlinks(want); err == nil {
		want = real
	}
	return filepath.Clean(want)
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
	return pid, filepath.Clean(cwd) == realPath(stateDir)
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
