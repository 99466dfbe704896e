package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testimages"
)

type result struct {
	out  string
	code int
}

func exec_(t *testing.T, name string, args ...string) result {
	t.Helper()
	cmd := exec.Command(name, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return result{string(out), code}
}

// freeTCPAddr is a loopback address nothing listens on.
func freeTCPAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func busybox(t *testing.T, d *daemon) string {
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	d.ok(t, "pull", "-q", "--platform", "linux/amd64", ref)
	return ref
}

func TestRunBasics(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	if out := d.ok(t, "run", "--rm", bb, "echo", "hi"); out != "hi\n" {
		t.Fatalf("echo: %q", out)
	}
	kver, _ := os.ReadFile(filepath.Join(guestDir, "kernel.release"))
	if out := d.ok(t, "run", "--rm", bb, "sh", "-c", "uname -r; echo $FOO $(pwd) $(id -u); exit 0", "-e"); strings.TrimSpace(strings.Split(out, "\n")[0]) != strings.TrimSpace(string(kver)) {
		t.Fatalf("uname -r in the container: %q, guest kernel %q", out, kver)
	}
	if out := d.ok(t, "run", "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "65534", bb, "sh", "-c", "echo $FOO $(pwd) $(id -u)"); out != "bar /tmp 65534\n" {
		t.Fatalf("-e -w -u: %q", out)
	}
	if out := d.ok(t, "run", "--rm", "-u", "app", bb, "id", "-un"); out != "app\n" {
		t.Fatalf("-u name: %q", out)
	}
	if _, _, code := d.docker(t, "", "run", "--rm", bb, "sh", "-c", "exit 3"); code != 3 {
		t.Fatalf("exit 3 gave %d", code)
	}
	if out, _, code := d.docker(t, "x\n", "run", "--rm", "-i", bb, "cat"); code != 0 || out != "x\n" {
		t.Fatalf("-i cat: %d %q", code, out)
	}
	_, errOut, code := d.docker(t, "", "run", "--rm", bb, "no-such-command")
	if code != 127 || !strings.Contains(errOut, "executable file not found") {
		t.Fatalf("missing command: exit %d %q", code, errOut)
	}
	// A file that is not executable: 126, as dockerd (from the guest's
	// typed error code, not its message).
	_, errOut, code = d.docker(t, "", "run", "--name", "not-runnable", bb, "/etc/passwd")
	defer d.docker(t, "", "rm", "-f", "not-runnable")
	if code != 126 || !strings.Contains(errOut, "permission denied") {
		t.Fatalf("not executable: exit %d %q", code, errOut)
	}
	if got := d.ok(t, "inspect", "-f", "{{.State.ExitCode}}", "not-runnable"); got != "126\n" {
		t.Fatalf("recorded exit code %q, want 126", got)
	}
}

func TestDetachedLifecycle(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "life", "-l", "e2e=life", bb, "sh", "-c", "echo started; while true; do sleep 1; done")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.ok(t, "logs", "life"), "started") {
		if time.Now().After(deadline) {
			t.Fatal("no log line")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, _, code := d.docker(t, "", "exec", "life", "sh", "-c", "echo in-exec; exit 4"); code != 4 || out != "in-exec\n" {
		t.Fatalf("exec: %d %q", code, out)
	}
	if out := d.ok(t, "ps", "--filter", "label=e2e=life", "--format", "{{.Names}}"); out != "life\n" {
		t.Fatalf("ps --filter: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "rm", "life"); code == 0 || !strings.Contains(errOut, "stop the container before removing or force remove") {
		t.Fatalf("rm of a running container: %d %q", code, errOut)
	}
	// The shell has no TERM trap: as the PID 1 it is under dockerd, it
	// ignores SIGTERM, so stop waits its timeout and kills (137).
	start := time.Now()
	d.ok(t, "stop", "-t", "2", "life")
	if out := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}}", "life"); out != "exited false 137\n" {
		t.Fatalf("after stop: %q", out)
	}
	if waited := time.Since(start); waited < 2*time.Second {
		t.Fatalf("stop returned after %v: SIGTERM reached a shell without a trap", waited)
	}
	d.ok(t, "start", "life")
	for strings.Count(d.ok(t, "logs", "life"), "started") < 2 {
		if time.Now().After(deadline.Add(60 * time.Second)) {
			t.Fatal("no log line from the second run")
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.ok(t, "kill", "life")
	if out := d.ok(t, "wait", "life"); out != "137\n" {
		t.Fatalf("wait after kill: %q", out)
	}
	if out := d.ok(t, "logs", "life"); strings.Count(out, "started") != 2 {
		t.Fatalf("logs over two runs: %q", out)
	}
	d.ok(t, "create", "--name", "later", bb, "echo", "created-then-started")
	if out := d.ok(t, "start", "-a", "later"); out != "created-then-started\n" {
		t.Fatalf("start -a: %q", out)
	}
	d.ok(t, "rm", "-f", "life", "later")
	if out := d.ok(t, "ps", "-a", "--format", "{{.Names}}"); strings.Contains(out, "life") || strings.Contains(out, "later") {
		t.Fatalf("containers left: %q", out)
	}
}

func TestForeignPlatformRunsEmulated(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.BusyboxARM64, testimages.Latest)
	if out := d.ok(t, "run", "--rm", ref, "uname", "-m"); out != "aarch64\n" {
		t.Fatalf("arm64-only image: %q", out)
	}
	multi := reg.Ref(testimages.Busybox, testimages.Latest)
	if out := d.ok(t, "run", "--rm", "--platform", "linux/arm64", multi, "sh", "-c", "uname -m; cat /proc/sys/fs/binfmt_misc/qemu-aarch64 | head -1"); out != "aarch64\nenabled\n" {
		t.Fatalf("--platform linux/arm64: %q", out)
	}
}

// TestNoVMOutlivesTheDaemon is also the one test with --accel auto, so the
// KVM probe boot runs once in the suite.
// It also serves a second, TCP address (-H is repeatable).
func TestNoVMOutlivesTheDaemon(t *testing.T) {
	tcp := freeTCPAddr(t)
	d := startDaemon(t, "--accel", "auto", "-H", "tcp://"+tcp)
	defer os.RemoveAll(filepath.Dir(d.sock))
	if reg == nil {
		sharedDaemon(t)
	}
	if out := d.ok(t, "-H", "tcp://"+tcp, "version", "--format", "{{.Server.Os}}"); out != "linux\n" {
		t.Fatalf("docker -H tcp://%s version: %q", tcp, out)
	}
	accel := d.ok(t, "info", "--format", "{{json .Labels}}")
	if !strings.Contains(accel, "pier.accel=kvm") && !strings.Contains(accel, "pier.accel=tcg") {
		t.Fatalf("--accel auto chose no acceleration: %s", accel)
	}
	t.Logf("--accel auto: %s", accel)
	ref := reg.Ref(testimages.BusyboxAMD64, testimages.Latest)
	d.ok(t, "pull", "-q", ref)
	d.ok(t, "run", "-d", "--name", "sleeper", ref, "sleep", "600")
	pid := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", "sleeper"))
	if _, err := os.Stat("/proc/" + pid); err != nil {
		t.Fatalf("VM process %s not running: %v", pid, err)
	}
	// The harness's leftover check must see this VM, or it proves nothing.
	if len(vmProcesses(d.dataDir)) == 0 {
		t.Fatalf("vmProcesses does not see the running VM %s", pid)
	}
	d.stop(t)
	time.Sleep(500 * time.Millisecond)
	if _, err := os.Stat("/proc/" + pid); err == nil {
		t.Fatalf("VM process %s outlived the daemon", pid)
	}
}

// A main process with a TERM trap gets docker stop's SIGTERM (as PID 1
// under dockerd would) and exits on its own.
func TestStopReachesATrap(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "trapper", bb, "sh", "-c", "trap 'echo got-term; exit 0' TERM; echo up; while :; do sleep 1; done")
	defer d.docker(t, "", "rm", "-f", "trapper")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.ok(t, "logs", "trapper"), "up") {
		if time.Now().After(deadline) {
			t.Fatal("no log line")
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.ok(t, "stop", "-t", "30", "trapper")
	if out := d.ok(t, "inspect", "-f", "{{.State.ExitCode}}", "trapper"); out != "0\n" {
		t.Fatalf("exit code after stop: %q", out)
	}
	if out := d.ok(t, "logs", "trapper"); !strings.Contains(out, "got-term") {
		t.Fatalf("logs: %q", out)
	}
}
