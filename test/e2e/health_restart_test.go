package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/testimages"
)

// waitInspect polls `docker inspect -f format ref` until its output (trimmed)
// is want, for up to d.
func (d *daemon) waitInspect(t *testing.T, ref, format, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for {
		out, errOut, code := d.docker(t, "", "inspect", "-f", format, ref)
		got = strings.TrimSpace(out)
		if code == 0 && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inspect %s %s: %q (stderr %q), want %q after %v\npierd log:\n%s", ref, format, got, errOut, want, within, tail(d.log.String(), 20))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A health check through the docker CLI (one VM): --health-* flags make
// the check, which pierd runs in the guest; inspect shows healthy, then
// unhealthy once the checked file is removed with docker exec; ps shows
// the health and filters on it; docker events has the health_status
// events; --no-healthcheck turns off the image's check.
func TestHealthCheckCLI(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	since := fmt.Sprint(time.Now().Unix())
	d.ok(t, "run", "-d", "--name", "hc",
		"--health-cmd", "test -f /tmp/ok && echo present", "--health-interval", "1s", "--health-timeout", "5s",
		"--health-retries", "2", "--health-start-period", "30s", "--health-start-interval", "1s",
		bb, "sh", "-c", "touch /tmp/ok; exec sleep 600")
	t.Cleanup(func() { d.docker(t, "", "rm", "-f", "hc") })

	if hc := d.ok(t, "inspect", "-f", "{{json .Config.Healthcheck}}", "hc"); strings.TrimSpace(hc) !=
		`{"Test":["CMD-SHELL","test -f /tmp/ok && echo present"],"Interval":1000000000,"Timeout":5000000000,"StartPeriod":30000000000,"StartInterval":1000000000,"Retries":2}` {
		t.Fatalf("Config.Healthcheck: %s", hc)
	}
	d.waitInspect(t, "hc", "{{.State.Health.Status}}", "healthy", time.Minute)
	if out := d.ok(t, "inspect", "-f", "{{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}} {{printf \"%q\" (index .State.Health.Log 0).Output}}", "hc"); out != "0 0 \"present\\n\"\n" {
		t.Fatalf("healthy state: %q", out)
	}
	if out := d.ok(t, "ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "hc Up ") || !strings.HasSuffix(out, " (healthy)\n") {
		t.Fatalf("ps --filter health=healthy: %q", out)
	}
	if out := d.ok(t, "ps", "-q", "--filter", "health=unhealthy", "--filter", "name=hc"); out != "" {
		t.Fatalf("ps --filter health=unhealthy lists the healthy container: %q", out)
	}

	d.ok(t, "exec", "hc", "rm", "/tmp/ok")
	d.waitInspect(t, "hc", "{{.State.Health.Status}}", "unhealthy", time.Minute)
	log := d.ok(t, "inspect", "-f", "{{.State.Health.FailingStreak}} {{len .State.Health.Log}} {{range .State.Health.Log}}{{.ExitCode}}{{end}}", "hc")
	var streak, n int
	var codes string
	fmt.Sscan(log, &streak, &n, &codes)
	if streak < 2 || n > 5 || !strings.HasSuffix(codes, "11") {
		t.Fatalf("unhealthy state (streak, log length, exit codes): %q", log)
	}
	if out := d.ok(t, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}} {{.Status}}"); !strings.HasSuffix(out, " (unhealthy)\n") {
		t.Fatalf("ps --filter health=unhealthy: %q", out)
	}
	events := d.ok(t, "events", "--since", since, "--until", fmt.Sprint(time.Now().Unix()+1),
		"--filter", "container=hc", "--filter", "event=health_status", "--format", "{{.Action}}")
	if events != "health_status: healthy\nhealth_status: unhealthy\n" {
		t.Fatalf("health_status events: %q", events)
	}

	// The app image has a check of its own; --no-healthcheck turns it off.
	app := reg.Ref(testimages.App, testimages.Latest)
	d.ok(t, "pull", "-q", app)
	d.ok(t, "create", "--name", "nohc", "--no-healthcheck", app)
	t.Cleanup(func() { d.docker(t, "", "rm", "-f", "nohc") })
	if out := d.ok(t, "inspect", "-f", "{{json .Config.Healthcheck.Test}} {{json .State.Health}}", "nohc"); out != "[\"NONE\"] null\n" {
		t.Fatalf("--no-healthcheck: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "ps", "--filter", "health=fine"); code == 0 || !strings.Contains(errOut, "invalid filter 'health=fine'") {
		t.Fatalf("bad health filter: exit %d %q", code, errOut)
	}
}

// Restart policies through the docker CLI on the shared daemon (three
// short VMs): on-failure:2 restarts a failing container twice and leaves
// it exited with RestartCount 2; docker update changes the policy.
func TestRestartOnFailure(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	d.ok(t, "run", "-d", "--name", "onfail", "--restart", "on-failure:2", bb, "sh", "-c", "exit 3")
	t.Cleanup(func() { d.docker(t, "", "rm", "-f", "onfail") })
	d.waitInspect(t, "onfail", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", "exited 2 3", 2*time.Minute)
	time.Sleep(time.Second)
	if out := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "onfail"); out != "exited 2\n" {
		t.Fatalf("after the retries: %q", out)
	}
	if out := d.ok(t, "update", "--restart", "always", "onfail"); out != "onfail\n" {
		t.Fatalf("docker update: %q", out)
	}
	if out := d.ok(t, "inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", "onfail"); out != "always\n" {
		t.Fatalf("policy after update: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "update", "--restart", "sometimes", "onfail"); code == 0 || !strings.Contains(errOut, "invalid restart policy") {
		t.Fatalf("update to a bad policy: exit %d %q", code, errOut)
	}
}

// --restart always on a daemon of its own: a container whose process
// exits is started again; docker stop ends the loop; a daemon restart
// brings the always container back but not a stopped unless-stopped one.
func TestRestartAlwaysStopAndDaemonRestart(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t)
	defer d.stop(t)
	bb := busybox(t, d)

	d.ok(t, "run", "-d", "--name", "always", "--restart", "always", bb, "sh", "-c", "sleep 1")
	d.waitInspect(t, "always", "{{if ge .RestartCount 1}}restarted{{end}}", "restarted", 2*time.Minute)
	d.waitInspect(t, "always", "{{.State.Status}}", "running", 2*time.Minute)
	events := d.ok(t, "events", "--since", "0", "--until", fmt.Sprint(time.Now().Unix()+1), "--filter", "container=always", "--format", "{{.Action}}")
	if !strings.Contains(events, "start\ndie\nstart\n") {
		t.Fatalf("events of a restarted container: %q", events)
	}
	d.ok(t, "stop", "-t", "0", "always")
	count := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "always")
	if !strings.HasPrefix(count, "exited ") {
		t.Fatalf("after docker stop: %q", count)
	}
	time.Sleep(3 * time.Second)
	if again := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "always"); again != count {
		t.Fatalf("docker stop did not end the loop: %q, then %q", count, again)
	}

	// A stopped container's VM can be resized for its next start.
	d.ok(t, "update", "--memory", "256m", "always")
	d.ok(t, "run", "-d", "--name", "unless", "--restart", "unless-stopped", bb, "sleep", "600")
	d.ok(t, "stop", "-t", "0", "unless")
	d.restart(t)
	d.waitInspect(t, "always", "{{.State.Status}} {{.RestartCount}} {{.HostConfig.Memory}}", "running 0 268435456", 2*time.Minute)
	if out := d.ok(t, "inspect", "-f", "{{.State.Status}}", "unless"); out != "exited\n" {
		t.Fatalf("an unless-stopped container the user stopped, at daemon start: %q", out)
	}
	if out := d.ok(t, "exec", "always", "sh", "-c", "grep MemTotal /proc/meminfo"); !strings.Contains(out, "MemTotal") {
		t.Fatalf("exec in the restarted container: %q", out)
	}
	d.ok(t, "rm", "-f", "always", "unless")
}
