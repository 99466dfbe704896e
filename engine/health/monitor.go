package health

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/pier-vm/pier/engine/container"
)

// Runner runs one probe in the container.
type Runner interface {
	// Probe runs argv in the container with its stdout and stderr going to
	// out and returns the exit code. It returns once the process ended, or
	// when ctx ended (after stopping the process). An error means the probe
	// could not run.
	Probe(ctx context.Context, argv []string, out io.Writer) (int, error)
}

// Clock is the time a Monitor runs on.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Monitor runs one container's health check while it runs.
type Monitor struct {
	// Argv is the probe command (see Command).
	Argv     []string
	Settings Settings
	// StartedAt is when the container started (for the start period).
	StartedAt time.Time
	Runner    Runner
	Clock     Clock
	// Update receives the health after every probe; changed says whether
	// its status changed. It is called from Run's goroutine.
	Update func(h container.Health, changed bool)
}

// Run probes on the check's schedule, starting from h, until ctx ends. A
// probe still running when ctx ends is stopped and its result dropped;
// Run returns after it.
func (m Monitor) Run(ctx context.Context, h container.Health) {
	for {
		wait := m.Settings.NextWait(m.Clock.Now().Sub(m.StartedAt), h.Status)
		select {
		case <-ctx.Done():
			return
		case <-m.Clock.After(wait):
		}
		res, ok := m.probe(ctx)
		if !ok {
			return
		}
		next := Record(h, res, m.StartedAt, m.Settings)
		changed := next.Status != h.Status
		h = next
		m.Update(h, changed)
	}
}

// probe runs the command once within the timeout; ok is false when ctx
// ended first.
func (m Monitor) probe(ctx context.Context) (res container.HealthResult, ok bool) {
	start := m.Clock.Now()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := &outputBuffer{}
	type ended struct {
		code int
		err  error
	}
	done := make(chan ended, 1)
	go func() {
		code, err := m.Runner.Probe(pctx, m.Argv, out)
		done <- ended{code, err}
	}()
	select {
	case e := <-done:
		res = container.HealthResult{Start: start, End: m.Clock.Now(), ExitCode: e.code, Output: out.String()}
		if e.err != nil {
			res.ExitCode, res.Output = -1, e.err.Error()
		}
		return res, ctx.Err() == nil
	case <-m.Clock.After(m.Settings.Timeout):
		cancel()
		<-done
		msg := fmt.Sprintf("Health check exceeded timeout (%v)", m.Settings.Timeout)
		if o := out.String(); o != "" {
			msg += ": " + o
		}
		return container.HealthResult{Start: start, End: m.Clock.Now(), ExitCode: -1, Output: msg}, ctx.Err() == nil
	case <-ctx.Done():
		cancel()
		<-done
		return res, false
	}
}
