// Package health is Docker's container health check without the container:
// the probe command a Healthcheck config asks for, its schedule (interval,
// start period, start interval, timeout, retries with Docker's defaults),
// the state machine that turns probe results into starting, healthy or
// unhealthy, and a monitor loop that runs probes through a small Runner
// seam on a Clock. The engine wires it to a running container's VM
// (engine/containers_health.go).
package health

import (
	"bytes"
	"sync"
	"time"

	"github.com/pier-vm/pier/engine/container"
)

// Docker's defaults for what a Healthcheck leaves zero, and its limits.
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartPeriod   = 0
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3
	// MaxLogEntries is how many results the Log keeps.
	MaxLogEntries = 5
	// MaxOutputLen is how much of a probe's output a result keeps ("..."
	// marks the cut).
	MaxOutputLen = 4096
)

// Command is the argv a health check runs in the container: Test[1:] for
// CMD, shell + Test[1:] for CMD-SHELL (shell is the container's Shell,
// "/bin/sh -c" when empty). It is nil when there is nothing to run: no
// check, NONE (`--no-healthcheck`), an unknown type or an empty command.
func Command(hc *container.Healthcheck, shell []string) []string {
	if hc == nil || len(hc.Test) < 2 {
		return nil
	}
	switch hc.Test[0] {
	case "CMD":
		return append([]string(nil), hc.Test[1:]...)
	case "CMD-SHELL":
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string(nil), shell...), hc.Test[1:]...)
	}
	return nil
}

// Settings are a health check's timings with Docker's defaults applied.
type Settings struct {
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Resolve applies Docker's defaults to what hc leaves zero.
func Resolve(hc container.Healthcheck) Settings {
	s := Settings{
		Interval:      orDefault(hc.Interval, DefaultInterval),
		Timeout:       orDefault(hc.Timeout, DefaultTimeout),
		StartPeriod:   orDefault(hc.StartPeriod, DefaultStartPeriod),
		StartInterval: orDefault(hc.StartInterval, DefaultStartInterval),
		Retries:       hc.Retries,
	}
	if s.Retries <= 0 {
		s.Retries = DefaultRetries
	}
	return s
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// NextWait is how long to wait before the next probe: the start interval
// while the container is still starting within its start period, the
// interval otherwise.
func (s Settings) NextWait(sinceStart time.Duration, status string) time.Duration {
	if sinceStart < s.StartPeriod && status == container.HealthStarting {
		return s.StartInterval
	}
	return s.Interval
}

// Starting is the health a container starts with: status starting, no
// failures, and the log of its previous runs.
func Starting(prev *container.Health) container.Health {
	h := container.Health{Status: container.HealthStarting}
	if prev != nil {
		h.Log = append([]container.HealthResult(nil), prev.Log...)
	}
	return h
}

// Record applies one probe result to h as Docker does: the result joins
// the log (the last MaxLogEntries are kept); exit code 0 makes the
// container healthy and clears the streak; any other code is a failure,
// which does not count while the container is starting within its start
// period, and makes it unhealthy once Retries failures are in a row.
func Record(h container.Health, res container.HealthResult, startedAt time.Time, s Settings) container.Health {
	log := append([]container.HealthResult(nil), h.Log...)
	log = append(log, res)
	if len(log) > MaxLogEntries {
		log = log[len(log)-MaxLogEntries:]
	}
	h.Log = log
	if res.ExitCode == 0 {
		h.FailingStreak = 0
		h.Status = container.HealthHealthy
		return h
	}
	if h.Status == container.HealthStarting && res.Start.Sub(startedAt) < s.StartPeriod {
		return h
	}
	h.FailingStreak++
	if h.FailingStreak >= s.Retries {
		h.Status = container.HealthUnhealthy
	}
	return h
}

// outputBuffer keeps the first MaxOutputLen bytes written to it and
// remembers whether more came.
type outputBuffer struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (b *outputBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(MaxOutputLen-b.buf.Len(), len(p))
	if keep > 0 {
		b.buf.Write(p[:keep])
	}
	if keep < len(p) {
		b.truncated = true
	}
	return len(p), nil
}

// String is the kept output, with "..." when some was cut.
func (b *outputBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return b.buf.String() + "..."
	}
	return b.buf.String()
}
