package e2e

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A VM that dies under its container (QEMU killed) ends the container at
// once: exited, 137 as for a killed process, State.Error saying how the VM
// ended; the container can start again.
func TestVMDeathEndsTheContainer(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "vmdeath", bb, "sleep", "600")
	defer d.docker(t, "", "rm", "-f", "vmdeath")
	pid, err := strconv.Atoi(strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", "vmdeath")))
	if err != nil || pid <= 1 {
		t.Fatalf("VM pid %d: %v", pid, err)
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var state string
	for time.Since(killed) < 10*time.Second {
		state = d.ok(t, "inspect", "-f", "{{.State.Status}}|{{.State.ExitCode}}|{{.State.Error}}", "vmdeath")
		if !strings.HasPrefix(state, "running") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(killed)
	t.Logf("container ended %v after its VM was killed: %s", took.Round(time.Millisecond), strings.TrimSpace(state))
	f := strings.SplitN(strings.TrimSpace(state), "|", 3)
	if len(f) != 3 || f[0] != "exited" || f[1] != "137" || !strings.Contains(f[2], "VM stopped unexpectedly") {
		t.Fatalf("state after the VM died: %q", state)
	}
	if took > 2*time.Second {
		t.Errorf("the container ended %v after its VM died: want within 2 s", took)
	}
	d.ok(t, "start", "vmdeath")
	if got := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Error}}", "vmdeath"); got != "running \n" {
		t.Fatalf("after a new start: %q", got)
	}
}

// A process that outgrows --memory (the guest's RAM) is OOM-killed inside
// the guest, and the container reports it as dockerd does: 137 and
// OOMKilled.
func TestOutOfMemoryIsReported(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	// tail keeps a line that never ends: it grows until the OOM killer.
	_, _, code := d.docker(t, "", "run", "--name", "oom", "--memory", "128m", bb, "sh", "-c", "exec tail < /dev/zero")
	defer d.docker(t, "", "rm", "-f", "oom")
	if code != 137 {
		t.Errorf("docker run exit %d, want 137", code)
	}
	if got := d.ok(t, "inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", "oom"); got != "137 true\n" {
		t.Fatalf("exit code and OOMKilled: %q", got)
	}
}
