package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// sleeperIn starts a sleep in a session of its own with dir as its
// working directory, as pierd starts QEMU; it is killed at the test's end.
func sleeperIn(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// KillLeftovers kills a process by its pid file only when it runs in the
// state directory: a pid reused by an unrelated process is left alone.
func TestKillLeftoversOnlyKillsWhatRunsInTheStateDir(t *testing.T) {
	stateDir, elsewhere := t.TempDir(), t.TempDir()
	stranger := sleeperIn(t, elsewhere)
	pidFile := filepath.Join(stateDir, qemuPidName)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(stranger.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &Driver{}
	if n, err := d.KillLeftovers(context.Background(), stateDir); err != nil || n != 0 {
		t.Fatalf("killed %d (%v) for a pid that runs elsewhere", n, err)
	}
	if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the stranger was hit: %v", err)
	}

	ours := sleeperIn(t, stateDir)
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(ours.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ours.Wait() }()
	n, err := d.KillLeftovers(context.Background(), stateDir)
	if err != nil || n != 1 {
		t.Fatalf("KillLeftovers = %d, %v; want 1", n, err)
	}
	if err := <-done; err == nil {
		t.Fatal("the leftover exited cleanly: it was not killed")
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Fatalf("pid file left: %v", err)
	}
}

// A daemon killed between starting a helper and recording its pid leaves
// the pid file's start mark (or less of it) and maybe the pid write's
// temporary file: the next KillLeftovers finds the helper by its working
// directory, kills it and leaves no file behind; a process elsewhere is
// not touched.
func TestKillLeftoversFindsAHelperWhosePidWasNotRecorded(t *testing.T) {
	for _, mark := range []string{startingMark, "sta", ""} {
		stateDir, elsewhere := t.TempDir(), t.TempDir()
		stranger, ours := sleeperIn(t, elsewhere), sleeperIn(t, stateDir)
		pidFile := filepath.Join(stateDir, qemuPidName)
		if err := os.WriteFile(pidFile, []byte(mark), 0o600); err != nil {
			t.Fatal(err)
		}
		temp := filepath.Join(stateDir, ".tmp-"+qemuPidName+"123")
		if err := os.WriteFile(temp, []byte("4"), 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- ours.Wait() }()
		n, err := (&Driver{}).KillLeftovers(context.Background(), stateDir)
		if err != nil || n != 1 {
			t.Fatalf("mark %q: KillLeftovers = %d, %v; want 1", mark, n, err)
		}
		if err := <-done; err == nil {
			t.Fatalf("mark %q: the helper exited cleanly: it was not killed", mark)
		}
		if err := stranger.Process.Signal(syscall.Signal(0)); err != nil {
			t.Fatalf("mark %q: the process elsewhere was hit: %v", mark, err)
		}
		for _, f := range []string{pidFile, temp} {
			if _, err := os.Stat(f); !os.IsNotExist(err) {
				t.Fatalf("mark %q: %s left: %v", mark, filepath.Base(f), err)
			}
		}
	}
}
