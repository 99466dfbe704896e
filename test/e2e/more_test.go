package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// Log drivers: json-file's max-size and max-file bound the log on the
// host (the newest lines kept, across the rotated file), none keeps
// nothing (the run's own output still reaches the attached client; docker
// logs says it cannot read), another dockerd driver is a warning.
func TestLogRotationAndDrivers(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	id := strings.TrimSpace(d.ok(t, "run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2", bb,
		"sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done"))
	defer d.docker(t, "", "rm", "-f", id)
	if code := strings.TrimSpace(d.ok(t, "wait", id)); code != "0" {
		t.Fatalf("exit %s", code)
	}
	logs := strings.Fields(d.ok(t, "logs", id))
	if len(logs) == 0 || len(logs) > 40 || logs[len(logs)-1] != "line299" {
		t.Fatalf("logs kept %d lines ending %q", len(logs), logs[len(logs)-1:])
	}
	for i := 1; i < len(logs); i++ { // consecutive: nothing lost between the two files
		if logs[i] != "line"+strconv.Itoa(299-len(logs)+1+i) {
			t.Fatalf("logs not consecutive at %d: %q", i, logs)
		}
	}
	files, _ := filepath.Glob(filepath.Join(d.dataDir, "containers", id, "container.log*"))
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if len(files) != 2 || total > 2048 {
		t.Fatalf("log files %v hold %d bytes, want 2 files of at most 1k", files, total)
	}
	// compress: the rotated files gzipped, read back as the others.
	zipped := strings.TrimSpace(d.ok(t, "run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=3", "--log-opt", "compress=true", bb,
		"sh", "-c", "i=0; while [ $i -lt 300 ]; do echo line$i; i=$((i+1)); done"))
	defer d.docker(t, "", "rm", "-f", zipped)
	d.ok(t, "wait", zipped)
	gz, _ := filepath.Glob(filepath.Join(d.dataDir, "containers", zipped, "container.log.*.gz"))
	if zl := strings.Fields(d.ok(t, "logs", zipped)); len(gz) != 2 || len(zl) <= len(logs) || zl[len(zl)-1] != "line299" {
		t.Fatalf("compressed rotation: files %v, %d lines read back ending %q", gz, len(zl), zl[len(zl)-1:])
	}

	if out := d.ok(t, "run", "--rm", "--log-driver", "none", bb, "echo", "still attached"); out != "still attached\n" {
		t.Fatalf("run with the none driver: %q", out)
	}
	quiet := strings.TrimSpace(d.ok(t, "run", "-d", "--log-driver", "none", bb, "echo", "hi"))
	defer d.docker(t, "", "rm", "-f", quiet)
	d.ok(t, "wait", quiet)
	if _, errOut, code := d.docker(t, "", "logs", quiet); code == 0 || !strings.Contains(errOut, "configured logging driver does not support reading") {
		t.Fatalf("logs of a none container: %d %s", code, errOut)
	}
	_, errOut, code := d.docker(t, "", "create", "--name", "syslogged", "--log-driver", "syslog", bb, "true")
	defer d.docker(t, "", "rm", "-f", "syslogged")
	if code != 0 || !strings.Contains(errOut, "the syslog log driver is not available") {
		t.Fatalf("create with syslog: %d %s", code, errOut)
	}
	if _, errOut, code := d.docker(t, "", "create", "--log-driver", "bogus", bb, "true"); code == 0 || !strings.Contains(errOut, "no log driver named 'bogus'") {
		t.Fatalf("create with an unknown driver: %d %s", code, errOut)
	}
}
