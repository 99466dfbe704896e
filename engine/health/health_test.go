package health

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/container"
)

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hc    *container.Healthcheck
		shell []string
		want  []string
	}{
		{"no check", nil, nil, nil},
		{"none", &container.Healthcheck{Test: []string{"NONE"}}, nil, nil},
		{"cmd", &container.Healthcheck{Test: []string{"CMD", "test", "-f", "/ok"}}, nil, []string{"test", "-f", "/ok"}},
		{"cmd-shell", &container.Healthcheck{Test: []string{"CMD-SHELL", "test -f /ok"}}, nil, []string{"/bin/sh", "-c", "test -f /ok"}},
		{"cmd-shell with SHELL", &container.Healthcheck{Test: []string{"CMD-SHELL", "x"}}, []string{"/bin/bash", "-ec"}, []string{"/bin/bash", "-ec", "x"}},
		{"unknown type", &container.Healthcheck{Test: []string{"HTTP", "x"}}, nil, nil},
		{"empty command", &container.Healthcheck{Test: []string{"CMD"}}, nil, nil},
	} {
		if got := Command(tc.hc, tc.shell); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Command = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResolveDefaults(t *testing.T) {
	got := Resolve(container.Healthcheck{Test: []string{"CMD", "true"}})
	want := Settings{Interval: 30 * time.Second, Timeout: 30 * time.Second, StartPeriod: 0, StartInterval: 5 * time.Second, Retries: 3}
	if got != want {
		t.Fatalf("Resolve = %+v, want %+v", got, want)
	}
	got = Resolve(container.Healthcheck{Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5})
	want = Settings{Interval: time.Second, Timeout: 2 * time.Second, StartPeriod: 3 * time.Second, StartInterval: 4 * time.Second, Retries: 5}
	if got != want {
		t.Fatalf("Resolve = %+v, want %+v", got, want)
	}
}

func TestNextWait(t *testing.T) {
	s := Settings{Interval: 10 * time.Second, StartPeriod: 5 * time.Second, StartInterval: time.Second}
	if got := s.NextWait(0, container.HealthStarting); got != time.Second {
		t.Errorf("starting within start period: %v, want the start interval", got)
	}
	if got := s.NextWait(0, container.HealthHealthy); got != 10*time.Second {
		t.Errorf("healthy within start period: %v, want the interval", got)
	}
	if got := s.NextWait(6*time.Second, container.HealthStarting); got != 10*time.Second {
		t.Errorf("starting after the start period: %v, want the interval", got)
	}
}

func TestRecord(t *testing.T) {
	started := time.Unix(1000, 0)
	s := Settings{Retries: 2, StartPeriod: 10 * time.Second}
	at := func(sec int, code int) container.HealthResult {
		return container.HealthResult{Start: started.Add(time.Duration(sec) * time.Second), ExitCode: code}
	}
	h := Starting(nil)
	h = Record(h, at(1, 1), started, s)
	if h.Status != container.HealthStarting || h.FailingStreak != 0 {
		t.Fatalf("failure in start period: %+v, want starting without a streak", h)
	}
	h = Record(h, at(11, 1), started, s)
	if h.Status != container.HealthStarting || h.FailingStreak != 1 {
		t.Fatalf("first counted failure: %+v", h)
	}
	h = Record(h, at(12, 0), started, s)
	if h.Status != container.HealthHealthy || h.FailingStreak != 0 {
		t.Fatalf("success: %+v, want healthy", h)
	}
	h = Record(h, at(13, 1), started, s)
	if h.Status != container.HealthHealthy || h.FailingStreak != 1 {
		t.Fatalf("one failure when healthy: %+v, want still healthy", h)
	}
	h = Record(h, at(14, 2), started, s) // any non-zero code is a failure
	if h.Status != container.HealthUnhealthy || h.FailingStreak != 2 {
		t.Fatalf("retries failures: %+v, want unhealthy", h)
	}
	h = Record(h, at(15, 1), started, s)
	if len(h.Log) != MaxLogEntries || !h.Log[len(h.Log)-1].Start.Equal(started.Add(15*time.Second)) || !h.Log[0].Start.Equal(started.Add(11*time.Second)) {
		t.Fatalf("log keeps the last %d, oldest first: %+v", MaxLogEntries, h.Log)
	}
	again := Starting(&h)
	if again.Status != container.HealthStarting || again.FailingStreak != 0 || len(again.Log) != MaxLogEntries {
		t.Fatalf("Starting after a run: %+v, want starting with the old log", again)
	}
	// Failures within the start period do count once the check passed.
	h = Record(Record(Starting(nil), at(1, 0), started, s), at(2, 1), started, s)
	if h.FailingStreak != 1 {
		t.Fatalf("failure in start period after a success: streak %d, want 1", h.FailingStreak)
	}
}

func TestOutputBuffer(t *testing.T) {
	var b outputBuffer
	b.Write([]byte(strings.Repeat("a", MaxOutputLen-1)))
	if n, _ := b.Write([]byte("bc")); n != 2 {
		t.Fatalf("Write reports %d, want all of it", n)
	}
	got := b.String()
	if want := strings.Repeat("a", MaxOutputLen-1) + "b..."; got != want {
		t.Fatalf("truncated output is %d bytes ending %q, want %d ending %q", len(got), got[len(got)-5:], len(want), want[len(want)-5:])
	}
	var small outputBuffer
	small.Write([]byte("ok\n"))
	if small.String() != "ok\n" {
		t.Fatalf("small output = %q", small.String())
	}
}

// fakeClock fires After channels when the test advances it; every After
// call is reported on waits so the test knows what the monitor waits for.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	waits   chan time.Duration
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(5000, 0), waits: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	c.mu.Unlock()
	c.waits <- d
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// nextWait is the next duration the monitor waits for.
func (c *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.waits:
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("the monitor did not wait")
		return 0
	}
}

// scriptRunner answers probes from a script: an exit code, an error, or
// hang (block until ctx ends).
type scriptRunner struct {
	mu    sync.Mutex
	steps []step
	argv  [][]string
}

type step struct {
	code   int
	output string
	err    error
	hang   bool
}

func (r *scriptRunner) Probe(ctx context.Context, argv []string, out io.Writer) (int, error) {
	r.mu.Lock()
	s := r.steps[0]
	r.steps = r.steps[1:]
	r.argv = append(r.argv, argv)
	r.mu.Unlock()
	io.WriteString(out, s.output)
	if s.hang {
		<-ctx.Done()
		return 137, nil
	}
	return s.code, s.err
}

type update struct {
	h       container.Health
	changed bool
}

func TestMonitorRun(t *testing.T) {
	clk := newFakeClock()
	runner := &scriptRunner{steps: []step{
		{code: 1, output: "not yet"},     // in the start period: not counted
		{code: 0, output: "ok"},          // healthy
		{err: errors.New("exec failed")}, // failure 1
		{hang: true, output: "slow"},     // failure 2: timeout -> unhealthy
		{code: 0},                        // healthy again
	}}
	updates := make(chan update, 10)
	m := Monitor{
		Argv:      []string{"/bin/sh", "-c", "check"},
		Settings:  Settings{Interval: 10 * time.Second, Timeout: 3 * time.Second, StartPeriod: 5 * time.Second, StartInterval: time.Second, Retries: 2},
		StartedAt: clk.Now(),
		Runner:    runner,
		Clock:     clk,
		Update:    func(h container.Health, changed bool) { updates <- update{h, changed} },
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.Run(ctx, Starting(nil)); close(stopped) }()

	next := func(wantWait time.Duration) update {
		t.Helper()
		if d := clk.nextWait(t); d != wantWait {
			t.Fatalf("monitor waits %v, want %v", d, wantWait)
		}
		clk.Advance(wantWait)
		if d := clk.nextWait(t); d != m.Settings.Timeout {
			t.Fatalf("probe timeout %v, want %v", d, m.Settings.Timeout)
		}
		select {
		case u := <-updates:
			return u
		case <-time.After(5 * time.Second):
			t.Fatal("no update")
			return update{}
		}
	}

	u := next(time.Second) // starting, in the start period: start interval
	if u.changed || u.h.Status != container.HealthStarting || u.h.FailingStreak != 0 || u.h.Log[0].Output != "not yet" || u.h.Log[0].ExitCode != 1 {
		t.Fatalf("first probe: %+v", u)
	}
	u = next(time.Second)
	if !u.changed || u.h.Status != container.HealthHealthy {
		t.Fatalf("second probe: %+v, want healthy", u)
	}
	u = next(10 * time.Second) // healthy: the interval
	if u.changed || u.h.FailingStreak != 1 || u.h.Log[2].ExitCode != -1 || u.h.Log[2].Output != "exec failed" {
		t.Fatalf("failed exec: %+v", u)
	}
	// The hanging probe: advance past the timeout.
	if d := clk.nextWait(t); d != 10*time.Second {
		t.Fatalf("monitor waits %v", d)
	}
	clk.Advance(10 * time.Second)
	if d := clk.nextWait(t); d != 3*time.Second {
		t.Fatalf("probe timeout %v", d)
	}
	clk.Advance(3 * time.Second)
	u = <-updates
	last := u.h.Log[len(u.h.Log)-1]
	if !u.changed || u.h.Status != container.HealthUnhealthy || last.ExitCode != -1 || last.Output != "Health check exceeded timeout (3s): slow" {
		t.Fatalf("timed-out probe: %+v", u)
	}
	if last.End.Sub(last.Start) != 3*time.Second {
		t.Fatalf("timed-out probe took %v, want 3s", last.End.Sub(last.Start))
	}
	u = next(10 * time.Second)
	if !u.changed || u.h.Status != container.HealthHealthy || u.h.FailingStreak != 0 || len(u.h.Log) != 5 {
		t.Fatalf("recovery: %+v", u)
	}
	if !reflect.DeepEqual(runner.argv[0], []string{"/bin/sh", "-c", "check"}) {
		t.Fatalf("probe argv %q", runner.argv[0])
	}

	clk.nextWait(t)
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestMonitorStopDuringProbeDropsResult(t *testing.T) {
	clk := newFakeClock()
	runner := &scriptRunner{steps: []step{{hang: true}}}
	var calls int
	m := Monitor{
		Argv: []string{"true"}, Settings: Settings{Interval: time.Second, Timeout: time.Minute, Retries: 1},
		StartedAt: clk.Now(), Runner: runner, Clock: clk,
		Update: func(container.Health, bool) { calls++ },
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { m.Run(ctx, Starting(nil)); close(stopped) }()
	clk.nextWait(t)
	clk.Advance(time.Second)
	clk.nextWait(t) // the probe runs
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if calls != 0 {
		t.Fatalf("Update called %d times for a stopped probe", calls)
	}
}
