package engine_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// createCfg creates a container from cfg and hc (Image defaults to busybox).
func (f *fixture) createCfg(t *testing.T, name string, cfg container.Config, hc container.HostConfig) string {
	t.Helper()
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return res.ID
}

// eventually polls cond until it holds or 5 s passed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fixture) inspect(t *testing.T, id string) *engine.Info {
	t.Helper()
	info, err := f.c.ContainerInspect(id)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func (f *fixture) actions(id string) []string {
	history, _, cancel := f.bus.Subscribe()
	cancel()
	var out []string
	for _, e := range history {
		if e.Actor.ID == id {
			out = append(out, e.Action)
		}
	}
	return out
}

func healthOf(info *engine.Info) string {
	if info.State.Health == nil {
		return ""
	}
	return info.State.Health.Status
}

func TestHealthCheckRunsInTheContainer(t *testing.T) {
	f := newFixture(t)
	ok := f.createCfg(t, "ok", container.Config{
		Cmd:         []string{"sleep", "inf"},
		Healthcheck: &container.Healthcheck{Test: []string{"CMD", "echo", "fine"}, Interval: 10 * time.Millisecond},
	}, container.HostConfig{})
	bad := f.createCfg(t, "bad", container.Config{
		Cmd:         []string{"sleep", "inf"},
		Healthcheck: &container.Healthcheck{Test: []string{"CMD", "exit", "1"}, Interval: 10 * time.Millisecond, Retries: 2},
	}, container.HostConfig{})
	none := f.createCfg(t, "none", container.Config{
		Cmd:         []string{"sleep", "inf"},
		Healthcheck: &container.Healthcheck{Test: []string{"NONE"}},
	}, container.HostConfig{})
	if got := f.inspect(t, ok).State.Health; got != nil {
		t.Fatalf("health of a created container: %+v, want none", got)
	}
	for _, id := range []string{ok, bad, none} {
		if err := f.c.ContainerStart(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "ok healthy", func() bool { return healthOf(f.inspect(t, ok)) == container.HealthHealthy })
	eventually(t, "bad unhealthy", func() bool { return healthOf(f.inspect(t, bad)) == container.HealthUnhealthy })
	if h := f.inspect(t, none).State.Health; h != nil {
		t.Fatalf("--no-healthcheck container has health %+v", h)
	}

	h := f.inspect(t, ok).State.Health
	if h.FailingStreak != 0 || len(h.Log) == 0 || h.Log[0].ExitCode != 0 || h.Log[0].Output != "fine\n" || h.Log[0].End.Before(h.Log[0].Start) {
		t.Fatalf("healthy state: %+v", h)
	}
	h = f.inspect(t, bad).State.Health
	if h.FailingStreak < 2 || h.Log[0].ExitCode != 1 {
		t.Fatalf("unhealthy state: %+v", h)
	}
	eventually(t, "five log entries", func() bool { return len(f.inspect(t, ok).State.Health.Log) == 5 })
	time.Sleep(50 * time.Millisecond)
	if n := len(f.inspect(t, ok).State.Health.Log); n != 5 {
		t.Fatalf("log has %d entries, want the last 5", n)
	}

	list := func(health string) []string {
		sums, err := f.c.ContainerList(engine.ListOptions{Filter: engine.ListFilter{Health: []string{health}}})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range sums {
			names = append(names, strings.TrimPrefix(s.Name, "/"))
		}
		return names
	}
	if got := list("healthy"); strings.Join(got, ",") != "ok" {
		t.Fatalf("health=healthy lists %v", got)
	}
	if got := list("unhealthy"); strings.Join(got, ",") != "bad" {
		t.Fatalf("health=unhealthy lists %v", got)
	}
	if got := list("none"); strings.Join(got, ",") != "none" {
		t.Fatalf("health=none lists %v", got)
	}

	acts := strings.Join(f.actions(ok), ",")
	if !strings.Contains(acts, "start,exec_create: echo fine,exec_start: echo fine,exec_die,health_status: healthy") {
		t.Fatalf("events of the healthy container: %s", acts)
	}
	if strings.Count(acts, "health_status") != 1 {
		t.Fatalf("health_status published on every probe: %s", acts)
	}
	if !strings.Contains(strings.Join(f.actions(bad), ","), "health_status: unhealthy") {
		t.Fatalf("events of the unhealthy container: %v", f.actions(bad))
	}

	// A stopped container's check stops: it reads unhealthy, its log stays;
	// a new start begins at starting with the old log.
	zero := 0
	if err := f.c.ContainerStop(context.Background(), ok, engine.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	h = f.inspect(t, ok).State.Health
	if h.Status != container.HealthUnhealthy || len(h.Log) != 5 {
		t.Fatalf("health after stop: %+v", h)
	}
	n := len(f.actions(ok))
	time.Sleep(50 * time.Millisecond)
	if got := f.actions(ok); len(got) != n {
		t.Fatalf("probes after stop: %v", got[n:])
	}
	if err := f.c.ContainerStart(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	if h := f.inspect(t, ok).State.Health; h.Status != container.HealthStarting || h.FailingStreak != 0 || len(h.Log) != 5 {
		t.Fatalf("health after a new start: %+v", h)
	}
	eventually(t, "healthy again", func() bool { return healthOf(f.inspect(t, ok)) == container.HealthHealthy })
}

func TestHealthCheckTimeout(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "slow", container.Config{
		Cmd: []string{"sleep", "inf"},
		Healthcheck: &container.Healthcheck{
			Test: []string{"CMD", "sleep", "inf"}, Interval: 10 * time.Millisecond, Timeout: 20 * time.Millisecond, Retries: 1,
		},
	}, container.HostConfig{})
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unhealthy", func() bool { return healthOf(f.inspect(t, id)) == container.HealthUnhealthy })
	r := f.inspect(t, id).State.Health.Log[0]
	if r.ExitCode != -1 || r.Output != "Health check exceeded timeout (20ms)" {
		t.Fatalf("timed-out probe: %+v", r)
	}
}

func TestRestartOnFailureCountsAndStops(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "flaky", container.Config{Cmd: []string{"exit", "3"}},
		container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 2}})
	start := time.Now()
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three runs", func() bool {
		info := f.inspect(t, id)
		return info.State.Status == container.StatusExited && info.RestartCount == 2
	})
	// Back-off: 100 ms, then 200 ms.
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("two restarts took %v, want the 100+200 ms back-off", took)
	}
	time.Sleep(500 * time.Millisecond)
	info := f.inspect(t, id)
	if info.RestartCount != 2 || info.State.Status != container.StatusExited || info.State.ExitCode != 3 || info.State.Restarting || info.State.Running {
		t.Fatalf("after the retries: count %d, state %+v", info.RestartCount, info.State)
	}
	acts := strings.Join(f.actions(id), ",")
	if acts != "create,start,die,start,die,start,die" {
		t.Fatalf("events = %s", acts)
	}
	// A start by the user resets the count.
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reset count", func() bool { return f.inspect(t, id).RestartCount == 1 })
}

func TestRestartAlwaysUntilStopped(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "loop", container.Config{Cmd: []string{"sleep", "0.05"}},
		container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always"}})
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a restart", func() bool { return f.inspect(t, id).RestartCount >= 2 })
	// Stop works whether it lands on a run or on a pending restart.
	zero := 0
	if err := f.c.ContainerStop(context.Background(), id, engine.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	info := f.inspect(t, id)
	if info.State.Status != container.StatusExited || !info.ManuallyStopped {
		t.Fatalf("after stop: %+v manual=%v", info.State, info.ManuallyStopped)
	}
	count := info.RestartCount
	time.Sleep(400 * time.Millisecond)
	if info := f.inspect(t, id); info.State.Status != container.StatusExited || info.RestartCount != count {
		t.Fatalf("stopped container restarted: %+v count %d", info.State, info.RestartCount)
	}
	if err := f.c.ContainerStop(context.Background(), id, engine.StopOptions{}); !errdefs.IsNotModified(err) {
		t.Fatalf("second stop: %v, want not modified", err)
	}
}

func TestRestartingContainerKillAndRemove(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "crash", container.Config{Cmd: []string{"exit", "1"}},
		container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always"}})
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Let the back-off grow so that the container is caught restarting.
	eventually(t, "restarting with a long back-off", func() bool {
		info := f.inspect(t, id)
		return info.RestartCount >= 4 && info.State.Status == container.StatusRestarting
	})
	info := f.inspect(t, id)
	if !info.State.Running || !info.State.Restarting {
		t.Fatalf("restarting state: %+v", info.State)
	}
	err := f.c.ContainerRemove(context.Background(), id, engine.RemoveOptions{})
	if !errdefs.IsConflict(err) || err.Error() != `cannot remove container "/crash": container is restarting: stop the container before removing or force remove` {
		t.Fatalf("remove restarting: %v", err)
	}
	if err := f.c.ContainerKill(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "exited", func() bool { return f.inspect(t, id).State.Status == container.StatusExited })
	count := f.inspect(t, id).RestartCount
	time.Sleep(2 * time.Second) // more than the back-off reached
	if got := f.inspect(t, id); got.State.Status != container.StatusExited || got.RestartCount != count {
		t.Fatalf("killed container restarted: %+v", got.State)
	}
	if err := f.c.ContainerRemove(context.Background(), id, engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRestartPolicyAtDaemonStart(t *testing.T) {
	f := newFixture(t)
	mk := func(name, policy string) string {
		return f.createCfg(t, name, container.Config{Cmd: []string{"sleep", "inf"}},
			container.HostConfig{RestartPolicy: container.RestartPolicy{Name: policy}})
	}
	always, unless, unlessStopped, never, created := mk("always", "always"), mk("unless", "unless-stopped"), mk("unless-stopped", "unless-stopped"), mk("never", "no"), mk("created", "always")
	for _, id := range []string{always, unless, unlessStopped, never} {
		if err := f.c.ContainerStart(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	zero := 0
	for _, id := range []string{always, unlessStopped} {
		if err := f.c.ContainerStop(context.Background(), id, engine.StopOptions{Timeout: &zero}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.c.Shutdown(ctx)
	if info := f.inspect(t, unless); info.State.Status != container.StatusExited || info.ManuallyStopped {
		t.Fatalf("unless-stopped after a daemon shutdown: %+v manual=%v", info.State, info.ManuallyStopped)
	}

	f.reopen(t)
	f.c.StartRestartable(context.Background())
	eventually(t, "always and unless-stopped running", func() bool {
		return f.inspect(t, always).State.Running && f.inspect(t, unless).State.Running
	})
	time.Sleep(100 * time.Millisecond)
	for _, id := range []string{unlessStopped, never, created} {
		if info := f.inspect(t, id); info.State.Running {
			t.Fatalf("%s started at daemon start", info.Name)
		}
	}
}

func TestCreateValidatesRestartPolicy(t *testing.T) {
	f := newFixture(t)
	_, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Config:     container.Config{Image: "busybox"},
		HostConfig: container.HostConfig{AutoRemove: true, RestartPolicy: container.RestartPolicy{Name: "always"}},
	})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "can't create 'AutoRemove' container with restart policy" {
		t.Fatalf("--rm with a restart policy: %v", err)
	}
}

func TestRestartingContainerWaitAndExec(t *testing.T) {
	f := newFixture(t)
	id := f.createCfg(t, "crash", container.Config{Cmd: []string{"exit", "1"}},
		container.HostConfig{RestartPolicy: container.RestartPolicy{Name: "always"}})
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restarting with a long back-off", func() bool {
		info := f.inspect(t, id)
		return info.RestartCount >= 4 && info.State.Status == container.StatusRestarting
	})
	_, err := f.c.ExecCreate(id, engine.ExecConfig{Cmd: []string{"true"}})
	if !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is restarting, wait until the container is running" {
		t.Fatalf("exec in a restarting container: %v", err)
	}
	// A wait for not-running on a restarting container ends at its next
	// exit (or stop), not at once.
	count := f.inspect(t, id).RestartCount
	ch, err := f.c.ContainerWait(context.Background(), id, engine.WaitNotRunning)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-ch:
		if got := f.inspect(t, id).RestartCount; got != count+1 || res.StatusCode != 1 {
			t.Fatalf("wait returned %+v with RestartCount %d, want at the next exit (count %d)", res, got, count+1)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not end at the next exit")
	}
	if err := f.c.ContainerKill(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
}

// A kill with a signal other than the stop signal is a manual stop for
// unless-stopped only: always restarts the container it ended, as dockerd.
func TestKillWithOtherSignalAndRestartPolicies(t *testing.T) {
	f := newFixture(t)
	mk := func(name, policy string) string {
		return f.createCfg(t, name, container.Config{Cmd: []string{"sleep", "inf"}, StopSignal: "SIGTERM"},
			container.HostConfig{RestartPolicy: container.RestartPolicy{Name: policy}})
	}
	always, unless := mk("always", "always"), mk("unless", "unless-stopped")
	for _, id := range []string{always, unless} {
		if err := f.c.ContainerStart(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if err := f.c.ContainerKill(context.Background(), id, "HUP"); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "always restarted", func() bool {
		info := f.inspect(t, always)
		return info.RestartCount == 1 && info.State.Running && !info.State.Restarting
	})
	eventually(t, "unless-stopped exited", func() bool { return f.inspect(t, unless).State.Status == container.StatusExited })
	time.Sleep(300 * time.Millisecond)
	if info := f.inspect(t, unless); info.State.Status != container.StatusExited || info.RestartCount != 0 || info.State.ExitCode != 129 {
		t.Fatalf("unless-stopped after kill -s HUP: %+v count %d", info.State, info.RestartCount)
	}
	if err := f.c.ContainerKill(context.Background(), always, ""); err != nil {
		t.Fatal(err)
	}
}
