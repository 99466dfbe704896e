package e2e

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testimages"
)

func TestTTYUnderPseudoTerminal(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("script (util-linux) is not installed")
	}
	cmd := exec.Command("script", "-qec", "docker run --rm -t "+bb+" sh -c 'tty; echo tty-ok'", "/dev/null")
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "tty-ok\r\n") {
		t.Fatalf("docker run -t: %v\n%q", err, out)
	}
}

func TestLogsFollow(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "follow", bb, "sh", "-c", "for i in 1 2 3; do echo line $i; sleep 1; done")
	defer d.docker(t, "", "rm", "-f", "follow")
	out := d.ok(t, "logs", "-f", "follow")
	if out != "line 1\nline 2\nline 3\n" {
		t.Fatalf("logs -f: %q", out)
	}
}

func TestVMThatCannotBootEndsExitedWithReason(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	// 8 MiB is not enough for the guest kernel: the VM dies while booting.
	_, errOut, code := d.docker(t, "", "run", "--name", "tiny", "--memory", "8m", bb, "true")
	defer d.docker(t, "", "rm", "-f", "tiny")
	if code == 0 {
		t.Fatal("a VM with 8 MiB booted")
	}
	state := d.ok(t, "inspect", "-f", "{{.State.Status}}|{{.State.Error}}", "tiny")
	if !strings.Contains(state, "|") || strings.HasSuffix(strings.TrimSpace(state), "|") {
		t.Fatalf("no State.Error after a failed boot: %q (cli: %s)", state, errOut)
	}
	if out := d.ok(t, "ps", "-q", "--filter", "name=tiny", "--filter", "status=running"); out != "" {
		t.Fatalf("still running: %q", out)
	}
}

func TestCreatedContainerKeepsItsPlatformAfterRepull(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	d.ok(t, "pull", "-q", "--platform", "linux/arm64", ref)
	d.ok(t, "create", "--name", "pinned", "--platform", "linux/arm64", ref, "uname", "-m")
	defer d.docker(t, "", "rm", "-f", "pinned")
	d.ok(t, "pull", "-q", "--platform", "linux/amd64", ref)
	if got := strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", ref)); got != "amd64" {
		t.Fatalf("the tag should now be amd64, is %q", got)
	}
	start := time.Now()
	if out := d.ok(t, "start", "-a", "pinned"); out != "aarch64\n" {
		t.Fatalf("start -a after the re-pull: %q (%v)", out, time.Since(start))
	}
}
