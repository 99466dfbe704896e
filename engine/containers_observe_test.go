package engine_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

func (f *fixture) startSleeper(t *testing.T, name string) string {
	t.Helper()
	id := f.create(t, name, "sleep", "inf")
	if err := f.c.ContainerStart(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestPauseUnpauseStatesAndErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created := f.create(t, "created", "sleep", "inf")
	if err := f.c.ContainerPause(ctx, created); !errdefs.IsConflict(err) || err.Error() != "Container "+created+" is not running" {
		t.Fatalf("pause of a created container: %v", err)
	}
	if err := f.c.ContainerUnpause(ctx, created); err == nil || errdefs.KindOf(err) != errdefs.KindUnknown || err.Error() != "Container "+created+" is not paused" {
		t.Fatalf("unpause of a created container: %v", err)
	}
	if err := f.c.ContainerPause(ctx, "nope"); !errdefs.IsNotFound(err) {
		t.Fatalf("pause of an unknown container: %v", err)
	}

	id := f.startSleeper(t, "pz")
	execID, err := f.c.ExecCreate(id, engine.ExecConfig{Cmd: []string{"echo", "later"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerPause(ctx, "pz"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ExecStart(ctx, execID, engine.ExecStartOptions{}); !errdefs.IsConflict(err) ||
		err.Error() != "Container "+id+" is paused, unpause the container before exec" {
		t.Fatalf("exec start in a paused container: %v", err)
	}
	st := f.inspect(t, id).State
	if !st.Paused || !st.Running || st.Status != container.StatusPaused {
		t.Fatalf("paused state: %+v", st)
	}
	if err := f.c.ContainerPause(ctx, id); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is already paused" {
		t.Fatalf("second pause: %v", err)
	}
	if _, err := f.c.ExecCreate("pz", engine.ExecConfig{Cmd: []string{"echo", "hi"}}); !errdefs.IsConflict(err) ||
		err.Error() != "Container pz is paused, unpause the container before exec" {
		t.Fatalf("exec in a paused container: %v", err)
	}
	if err := f.c.ContainerAttach(ctx, "pz", engine.AttachOptions{Stream: true}); !errdefs.IsConflict(err) ||
		err.Error() != "container pz is paused, unpause the container before attach" {
		t.Fatalf("attach to a paused container: %v", err)
	}
	if err := f.c.ContainerRemove(ctx, id, engine.RemoveOptions{}); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "container is paused and must be unpaused first") {
		t.Fatalf("rm of a paused container: %v", err)
	}
	if _, err := f.c.ContainerStatPath(ctx, id, "/"); !errdefs.IsConflict(err) || !strings.Contains(err.Error(), "is paused, unpause the container first") {
		t.Fatalf("docker cp from a paused container: %v", err)
	}
	list, err := f.c.ContainerList(engine.ListOptions{Filter: engine.ListFilter{Statuses: []string{"paused"}}})
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("status=paused filter: %v %v", list, err)
	}

	if err := f.c.ContainerUnpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	st = f.inspect(t, id).State
	if st.Paused || !st.Running || st.Status != container.StatusRunning {
		t.Fatalf("unpaused state: %+v", st)
	}
	if err := f.c.ContainerUnpause(ctx, id); err == nil || err.Error() != "Container "+id+" is not paused" {
		t.Fatalf("second unpause: %v", err)
	}
	if _, err := f.c.ExecCreate(id, engine.ExecConfig{Cmd: []string{"echo", "hi"}}); err != nil {
		t.Fatalf("exec after unpause: %v", err)
	}
	if err := f.c.ExecStart(ctx, execID, engine.ExecStartOptions{}); err != nil {
		t.Fatalf("exec created before the pause, started after the unpause: %v", err)
	}
	got := f.actions(id)
	if i := slices.Index(got, "pause"); i < 0 || !slices.Contains(got[i:], "unpause") {
		t.Fatalf("events %v, want pause then unpause", got)
	}
}

func TestStopAndKillOfPausedContainer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.startSleeper(t, "stopme")
	if err := f.c.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	// A signal that does not end the container waits in the paused guest.
	if err := f.c.ContainerKill(ctx, id, "USR1"); err != nil {
		t.Fatal(err)
	}
	if st := f.inspect(t, id).State; !st.Paused {
		t.Fatalf("after kill -s USR1: %+v, want still paused", st)
	}
	zero := 0
	if err := f.c.ContainerStop(ctx, id, engine.StopOptions{Timeout: &zero}); err != nil {
		t.Fatal(err)
	}
	st := f.inspect(t, id).State
	if st.Running || st.Paused || st.Status != container.StatusExited {
		t.Fatalf("stopped paused container: %+v", st)
	}
	got := f.actions(id)
	if i, j := slices.Index(got, "unpause"), slices.Index(got, "die"); i < 0 || j < i {
		t.Fatalf("events %v: want unpause before die", got)
	}

	id2 := f.startSleeper(t, "killme")
	if err := f.c.ContainerPause(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerKill(ctx, id2, ""); err != nil {
		t.Fatal(err)
	}
	if st := f.inspect(t, id2).State; st.Running || st.Paused || st.ExitCode != 137 {
		t.Fatalf("killed paused container: %+v", st)
	}

	id3 := f.startSleeper(t, "rmme")
	if err := f.c.ContainerPause(ctx, id3); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerRemove(ctx, id3, engine.RemoveOptions{Force: true}); err != nil {
		t.Fatalf("rm -f of a paused container: %v", err)
	}
}

func TestPauseStopsHealthProbes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.createCfg(t, "hc", container.Config{
		Cmd:         []string{"sleep", "inf"},
		Healthcheck: &container.Healthcheck{Test: []string{"CMD", "echo", "fine"}, Interval: 10 * time.Millisecond},
	}, container.HostConfig{})
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "healthy", func() bool { return healthOf(f.inspect(t, id)) == container.HealthHealthy })
	if err := f.c.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	probes := func() int {
		n := 0
		for _, a := range f.actions(id) {
			if strings.HasPrefix(a, "exec_start") {
				n++
			}
		}
		return n
	}
	before := probes()
	time.Sleep(100 * time.Millisecond)
	if after := probes(); after != before {
		t.Fatalf("%d probes ran while paused", after-before)
	}
	if h := healthOf(f.inspect(t, id)); h != container.HealthHealthy {
		t.Fatalf("health while paused: %s", h)
	}
	if err := f.c.ContainerUnpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "probes after unpause", func() bool { return probes() > before+2 })
}

func TestPauseNotImplemented(t *testing.T) {
	f := newFixture(t)
	f.rt.PauseErr = errdefs.NotImplemented(errors.New("the VMs of this driver cannot be paused"))
	id := f.startSleeper(t, "nopause")
	err := f.c.ContainerPause(context.Background(), id)
	if errdefs.KindOf(err) != errdefs.KindNotImplemented || !strings.Contains(err.Error(), "Cannot pause container "+id) {
		t.Fatalf("pause: %v", err)
	}
	if st := f.inspect(t, id).State; st.Paused || st.Status != container.StatusRunning {
		t.Fatalf("state after a failed pause: %+v", st)
	}
}

func collectStats(t *testing.T, f *fixture, ref string, opts engine.StatsOptions, n int) []engine.StatsEntry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []engine.StatsEntry
	err := f.c.ContainerStats(ctx, ref, opts, func(e engine.StatsEntry) error {
		got = append(got, e)
		if len(got) == n {
			cancel()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created := f.create(t, "idle", "sleep", "inf")
	if err := f.c.ContainerStats(ctx, created, engine.StatsOptions{Stream: true, OneShot: true}, nil); !errdefs.IsInvalidParameter(err) ||
		err.Error() != "cannot have stream=true and one-shot=true" {
		t.Fatalf("stream and one-shot: %v", err)
	}
	got := collectStats(t, f, created, engine.StatsOptions{}, 1)
	if len(got) != 1 || got[0].Stats != nil || got[0].ID != created || got[0].Name != "/idle" {
		t.Fatalf("stats of a created container: %+v", got)
	}

	id := f.startSleeper(t, "busy")
	got = collectStats(t, f, id, engine.StatsOptions{OneShot: true}, 1)
	if len(got) != 1 || got[0].Stats == nil || got[0].Pre != nil || got[0].Stats.Memory.Limit == 0 || got[0].Stats.Pids != 1 {
		t.Fatalf("one-shot: %+v", got)
	}
	start := time.Now()
	got = collectStats(t, f, id, engine.StatsOptions{}, 1)
	if len(got) != 1 || got[0].Pre == nil || got[0].Stats == nil || got[0].Stats.CPU.TotalNs <= got[0].Pre.CPU.TotalNs {
		t.Fatalf("stream=false: %+v", got)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("stream=false answered after %v, want a second's sample", d)
	}
	got = collectStats(t, f, id, engine.StatsOptions{Stream: true}, 2)
	if len(got) != 2 || got[0].Pre != nil || got[1].Pre == nil || got[1].Stats.Networks[0].RxBytes <= got[0].Stats.Networks[0].RxBytes {
		t.Fatalf("stream: %+v", got)
	}

	// Paused: the counters of the moment of the pause, which do not move.
	if err := f.c.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	got = collectStats(t, f, id, engine.StatsOptions{Stream: true}, 2)
	if len(got) != 2 || got[0].Stats == nil || got[1].Stats.CPU != got[0].Stats.CPU || got[1].Stats.Pids != 1 {
		t.Fatalf("stats while paused: %+v", got)
	}
}

func TestTop(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	created := f.create(t, "idle", "sleep", "inf")
	if _, err := f.c.ContainerTop(ctx, created, ""); !errdefs.IsConflict(err) || err.Error() != "Container "+created+" is not running" {
		t.Fatalf("top of a created container: %v", err)
	}
	id := f.startSleeper(t, "top")
	res, err := f.c.ContainerTop(ctx, "top", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}; !reflect.DeepEqual(res.Titles, want) {
		t.Fatalf("titles %q", res.Titles)
	}
	if len(res.Processes) != 1 || res.Processes[0][0] != "root" || res.Processes[0][7] != "sleep inf" {
		t.Fatalf("processes %q", res.Processes)
	}
	if _, err := f.c.ContainerTop(ctx, id, "-Z"); err == nil || !strings.HasPrefix(err.Error(), "ps: ") {
		t.Fatalf("top -Z: %v", err)
	}
	if err := f.c.ContainerPause(ctx, id); err != nil {
		t.Fatal(err)
	}
	res, err = f.c.ContainerTop(ctx, id, "aux")
	if err != nil || len(res.Processes) != 1 || res.Titles[0] != "USER" {
		t.Fatalf("top aux while paused: %q %v", res, err)
	}
	if !slices.Contains(f.actions(id), "top") {
		t.Fatalf("no top event in %v", f.actions(id))
	}
}

func TestStatsStreamEndsWhenRemoved(t *testing.T) {
	f := newFixture(t)
	id := f.startSleeper(t, "gone")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	samples := 0
	err := f.c.ContainerStats(ctx, id, engine.StatsOptions{Stream: true}, func(e engine.StatsEntry) error {
		samples++
		if samples == 1 {
			go f.c.ContainerRemove(context.Background(), id, engine.RemoveOptions{Force: true})
		}
		return nil
	})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("stream of a removed container: %v, ctx %v after %d samples", err, ctx.Err(), samples)
	}
}
