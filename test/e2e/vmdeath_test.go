package e2e

import (
	"os"
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

// A pierd killed with SIGKILL leaves its VMs running (QEMU runs in a
// session of its own); the next pierd ends them before it serves, so no
// container ever has two VMs on its disks, records the container as exited,
// and can start it again.
func TestKilledDaemonLeavesNoVMBehind(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t)
	defer d.stop(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "orphan", bb, "sleep", "600")
	pid, err := strconv.Atoi(strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", "orphan")))
	if err != nil {
		t.Fatal(err)
	}
	args := d.cmd.Args[1:]
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if !running(pid) {
		t.Fatalf("QEMU %d ended with pierd: this test needs it to outlive a SIGKILL", pid)
	}
	d.launch(t, args)
	if running(pid) {
		t.Errorf("QEMU %d still runs after the new pierd started", pid)
	}
	if left := vmProcesses(d.dataDir); len(left) != 0 {
		t.Errorf("VM processes left: %v", left)
	}
	if got := d.ok(t, "inspect", "-f", "{{.State.Status}}", "orphan"); got != "exited\n" {
		t.Errorf("container after the daemon was killed: %q", got)
	}
	d.ok(t, "start", "orphan")
	if got := d.ok(t, "exec", "orphan", "echo", "again"); got != "again\n" {
		t.Fatalf("exec after a new start: %q", got)
	}
	d.ok(t, "rm", "-f", "orphan")
}

// running says whether pid exists and is not a zombie (a killed orphan
// waits there for init to reap it).
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}
