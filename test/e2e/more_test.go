package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "tty-ok\r") {
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
	if reg == nil {
		sharedDaemon(t)
	}
	// A guest directory whose init cannot run: the kernel panics at boot.
	broken := t.TempDir()
	for _, f := range []string{"vmlinux", "kernel.release", "modules", "busybox"} {
		if err := os.Symlink(filepath.Join(guestDir, f), filepath.Join(broken, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(broken, "pier-init"), []byte("not an executable\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--guest-dir", broken)
	defer d.stop(t)
	ref := reg.Ref(testimages.BusyboxAMD64, testimages.Latest)
	d.ok(t, "pull", "-q", ref)
	_, errOut, code := d.docker(t, "", "run", "--name", "broken", ref, "true")
	if code == 0 {
		t.Fatal("a container ran with a guest that cannot boot")
	}
	state := d.ok(t, "inspect", "-f", "{{.State.Status}}|{{.State.Error}}", "broken")
	if !strings.Contains(state, "VM") || strings.Contains(state, "running") {
		t.Fatalf("State after a failed boot: %q (cli: %s)", state, errOut)
	}
	if out := d.ok(t, "ps", "-q"); out != "" {
		t.Fatalf("still running: %q", out)
	}
}

// --group-add: a group name from the image's /etc/group and a plain gid
// join the user's groups in the main process and in exec'd ones; a name
// the image does not know fails the start with runc's words.
func TestGroupAdd(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	// id -G: the primary group first, the others in no set order.
	if out := strings.Fields(d.ok(t, "run", "--rm", "-u", "app", "--group-add", "nobody", "--group-add", "4242", bb, "id", "-G")); len(out) != 4 || out[0] != "1000" || !slices.Equal(slices.Sorted(slices.Values(out[1:])), []string{"1001", "4242", "65534"}) {
		t.Fatalf("id -G with --group-add: %q", out)
	}
	d.ok(t, "run", "-d", "--name", "groupadd", "--group-add", "extra", bb, "sleep", "60")
	defer d.docker(t, "", "rm", "-f", "groupadd")
	if out := d.ok(t, "exec", "groupadd", "id", "-G"); out != "0 1001\n" {
		t.Fatalf("id -G in an exec: %q", out)
	}
	if out := d.ok(t, "inspect", "-f", "{{json .HostConfig.GroupAdd}}", "groupadd"); out != "[\"extra\"]\n" {
		t.Fatalf("HostConfig.GroupAdd: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "run", "--rm", "--group-add", "ghost", bb, "true"); code == 0 || !strings.Contains(errOut, "find group ghost") {
		t.Fatalf("--group-add of an unknown group: %d %s", code, errOut)
	}
}
