//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Live restore: a running container keeps running while pierd is killed
// (SIGKILL) or stopped, and the next pierd adopts it: same VM, `docker
// logs` without a lost or doubled line (including the lines written while
// no pierd ran), exec and stop work; a container that exited while pierd
// was away is recorded with its exit code; a published port and the DNS
// names of a user network keep working (the network's helper process).
func TestContainersOutliveTheDaemon(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t, "--live-restore")
	defer d.stop(t)
	if got := d.ok(t, "info", "-f", "{{.LiveRestoreEnabled}}"); got != "true\n" {
		t.Fatalf("docker info LiveRestoreEnabled: %q", got)
	}
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "counter", bb, "sh", "-c",
		`i=0; while true; do echo "line $i"; i=$((i+1)); usleep 10000; done`)
	defer d.docker(t, "", "rm", "-f", "counter", "short", "withvol", "doomed")
	pid := vmPid(t, d, "counter")
	// One with a volume (served by its QEMU over 9p, or by a virtiofsd
	// that is adopted too), one whose VM will die while no pierd runs (its
	// restart policy then applies).
	d.ok(t, "run", "-d", "--name", "withvol", "-v", "lrvol:/data", "--health-cmd", "date >> /tmp/probes",
		"--health-interval", "1s", bb, "sh", "-c", "echo kept > /data/f; sleep 600")
	d.ok(t, "run", "-d", "--name", "doomed", "--restart", "on-failure", bb, "sleep", "600")
	doomedPid := vmPid(t, d, "doomed")
	// One on a user network with a published port: the network's helper
	// (pier-net-helper) keeps serving while no pierd runs.
	d.ok(t, "network", "create", "lrnet")
	defer d.docker(t, "", "network", "rm", "lrnet")
	webAddr := freeTCPAddr(t)
	d.ok(t, "run", "-d", "--name", "web", "--network", "lrnet", "--network-alias", "webalias", "-p", webAddr+":80",
		bb, "sh", "-c", "mkdir /www && echo from-web > /www/index.html && exec httpd -f -p 80 -h /www")
	defer d.docker(t, "", "rm", "-f", "web")
	if got := httpGet(t, "http://"+webAddr+"/"); got != "from-web\n" {
		t.Fatalf("published port before the restart: %q", got)
	}
	waitLogLines(t, d, "counter", 20)
	d.waitInspect(t, "withvol", "{{.State.Health.Status}}", "healthy", 60*time.Second)
	probes := countLines(t, d, "withvol", "/tmp/probes")

	// SIGKILL: the VMs go on, the output piles up in the guest.
	args := d.cmd.Args[1:]
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if err := syscall.Kill(doomedPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if !running(pid) {
		t.Fatalf("QEMU %d ended with pierd", pid)
	}
	if got := httpGet(t, "http://"+webAddr+"/"); got != "from-web\n" {
		t.Fatalf("published port while no pierd runs: %q", got)
	}
	d.launch(t, args)
	// The adopted container's names are served again on its network, and
	// its published port still answers.
	if got := d.ok(t, "run", "--rm", "--network", "lrnet", bb, "wget", "-qO-", "http://webalias/"); got != "from-web\n" {
		t.Fatalf("an adopted container by its alias: %q", got)
	}
	if got := httpGet(t, "http://"+webAddr+"/"); got != "from-web\n" {
		t.Fatalf("published port after the restart: %q", got)
	}
	if got := d.ok(t, "exec", "withvol", "cat", "/data/f"); got != "kept\n" {
		t.Fatalf("the volume of an adopted container: %q", got)
	}
	// Its health checks go on.
	deadline := time.Now().Add(30 * time.Second)
	for countLines(t, d, "withvol", "/tmp/probes") < probes+3 {
		if time.Now().After(deadline) {
			t.Fatalf("no health probe ran in the adopted container (%d before the restart)", probes)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if got := d.ok(t, "inspect", "-f", "{{.State.Health.Status}}", "withvol"); got != "healthy\n" {
		t.Fatalf("health of the adopted container: %q", got)
	}
	if out := d.ok(t, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "counter"); !strings.HasPrefix(out, "counter ") {
		t.Fatalf("stats of the adopted container: %q", out)
	}
	// The VM that died while pierd was away: exited 137, then started
	// again by its policy in a new VM, as a starting dockerd does.
	d.waitInspect(t, "doomed", "{{.State.Status}}", "running", 60*time.Second)
	if vmPid(t, d, "doomed") == doomedPid {
		t.Fatal("the restarted container kept the dead VM's pid")
	}
	if got := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "counter"); got != fmt.Sprintf("running %d\n", pid) {
		t.Fatalf("after the restart: %q, want running with QEMU %d", got, pid)
	}
	n := checkContiguous(t, d, "counter")
	t.Logf("%d contiguous lines after a SIGKILL of pierd", n)
	if got := d.ok(t, "exec", "counter", "echo", "still here"); got != "still here\n" {
		t.Fatalf("exec in the adopted container: %q", got)
	}
	// Streams of the adopted container: logs -f and attach see new lines.
	before := time.Now()
	if out := streamFor(t, d, 3*time.Second, "logs", "-f", "--since", before.Format(time.RFC3339Nano), "counter"); !strings.Contains(out, "line ") {
		t.Fatalf("docker logs -f on the adopted container: %q", out)
	}
	if out := streamFor(t, d, 3*time.Second, "attach", "--no-stdin", "counter"); !strings.Contains(out, "line ") {
		t.Fatalf("docker attach to the adopted container: %q", out)
	}

	// A clean stop with live restore leaves the container running too;
	// a short-lived container exits while no pierd runs.
	d.ok(t, "run", "-d", "--name", "short", bb, "sh", "-c", "sleep 4; echo done; exit 7")
	d.cmd.Process.Signal(os.Interrupt)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("pierd's clean stop: %v\n%s", err, d.log)
	}
	if !running(pid) {
		t.Fatalf("QEMU %d ended with a clean stop of pierd under --live-restore", pid)
	}
	time.Sleep(6 * time.Second)
	d.launch(t, args)
	if got := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "counter"); got != fmt.Sprintf("running %d\n", pid) {
		errText := d.ok(t, "inspect", "-f", "{{.State.Error}}", "counter")
		console, _ := os.ReadFile(filepath.Join(d.dataDir, "containers", strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.Id}}", "counter")), "console.log"))
		t.Fatalf("after the second restart: %q (error %q)\nconsole:\n%s\npierd log:\n%s", got, errText, console, d.log)
	}
	d.waitInspect(t, "short", "{{.State.Status}} {{.State.ExitCode}}", "exited 7", 20*time.Second)
	if got := d.ok(t, "logs", "short"); got != "done\n" {
		t.Fatalf("logs of the container that exited while pierd was away: %q", got)
	}
	n2 := checkContiguous(t, d, "counter")
	if n2 <= n {
		t.Fatalf("the log did not grow across the second restart: %d then %d lines", n, n2)
	}
	waited := make(chan string, 1)
	go func() {
		out, _, _ := d.docker(t, "", "wait", "counter")
		waited <- out
	}()
	time.Sleep(500 * time.Millisecond)
	stopAt := time.Now()
	d.ok(t, "stop", "-t", "1", "counter")
	select {
	case out := <-waited:
		if out != "137\n" {
			t.Fatalf("docker wait on the adopted container: %q", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("docker wait did not return after the stop")
	}
	if running(pid) {
		t.Fatalf("QEMU %d still runs after docker stop", pid)
	}
	// Events of the adopted container.
	events := d.ok(t, "events", "--since", stopAt.Add(-time.Second).Format(time.RFC3339Nano), "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano),
		"--filter", "container=counter", "--format", "{{.Action}}")
	if !strings.Contains(events, "die") || !strings.Contains(events, "stop") {
		t.Fatalf("events of the adopted container's stop: %q", events)
	}
	checkContiguous(t, d, "counter")
	// Stopping the adopted web releases its published port.
	d.ok(t, "stop", "-t", "1", "web")
	if c, err := net.DialTimeout("tcp", webAddr, 2*time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still answers after the adopted container stopped", webAddr)
	}
	d.ok(t, "rm", "-f", "counter", "short", "withvol", "doomed", "web")
	d.ok(t, "network", "rm", "lrnet")
}

// streamFor runs a docker command that streams (logs -f, attach) for d
// and returns what it printed by then.
func streamFor(t *testing.T, d *daemon, dur time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = d.env
	var out bytes.Buffer
	cmd.Stdout = &out
	_ = cmd.Run() // ended by the timeout
	return out.String()
}

// countLines counts the lines of a file inside the container.
func countLines(t *testing.T, d *daemon, name, path string) int {
	t.Helper()
	out, _, _ := d.docker(t, "", "exec", name, "sh", "-c", "cat "+path+" 2>/dev/null | wc -l")
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("counting lines of %s in %s: %q", path, name, out)
	}
	return n
}

func vmPid(t *testing.T, d *daemon, name string) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", name)))
	if err != nil || pid <= 1 {
		t.Fatalf("VM pid of %s: %d %v", name, pid, err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("VM pid %d of %s: %v", pid, name, err)
	}
	return pid
}

func waitLogLines(t *testing.T, d *daemon, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Count(d.ok(t, "logs", name), "\n") >= n {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not log %d lines", name, n)
}

// checkContiguous checks that the container's log is "line 0", "line 1",
// ... with none missing or doubled, and returns how many lines it has.
func checkContiguous(t *testing.T, d *daemon, name string) int {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(d.ok(t, "logs", name), "\n"), "\n")
	for i, l := range lines {
		if l != fmt.Sprintf("line %d", i) {
			lo, hi := max(0, i-3), min(len(lines), i+3)
			t.Fatalf("log line %d is %q, want %q (around it: %q)", i, l, fmt.Sprintf("line %d", i), lines[lo:hi])
		}
	}
	return len(lines)
}
