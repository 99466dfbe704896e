package engine

import (
	"context"
	"io"
	"strconv"
	"strings"
	"syscall"

	"github.com/docker/docker/pkg/stringid"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/health"
)

// healthMonitorLocked prepares run r's health monitor (engine/health) and
// sets the container's health to starting; x.mu is held and the state is
// already running. It returns nil when the container has no check.
func (s *Containers) healthMonitorLocked(x *ctr, r *run) *health.Monitor {
	m := s.healthMonitorOfLocked(x, r)
	if m == nil {
		return nil
	}
	h := health.Starting(x.c.State.Health)
	x.c.State.Health = &h
	return m
}

// healthMonitorOfLocked is run r's health monitor, nil without a check;
// x.mu is held.
func (s *Containers) healthMonitorOfLocked(x *ctr, r *run) *health.Monitor {
	c := x.c
	argv := health.Command(c.Config.Healthcheck, c.Config.Shell)
	if argv == nil {
		return nil
	}
	return &health.Monitor{
		Argv:      argv,
		Settings:  health.Resolve(*c.Config.Healthcheck),
		StartedAt: c.State.StartedAt,
		Runner:    probeRunner{s: s, x: x, r: r},
		Clock:     health.SystemClock,
		Update:    func(h container.Health, changed bool) { s.recordHealth(x, r, h, changed) },
	}
}

// startHealth runs m for run r until the run ends or the container is
// paused (r.stopHealth).
func (s *Containers) startHealth(r *run, m *health.Monitor, h container.Health) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	r.healthMu.Lock()
	r.healthStop = func() {
		cancel()
		<-done
	}
	r.healthMu.Unlock()
	go func() {
		defer close(done)
		m.Run(ctx, h)
	}()
}

// recordHealth stores a probe's outcome while run r is the container's run
// and publishes `health_status: <status>` when the status changed.
func (s *Containers) recordHealth(x *ctr, r *run, h container.Health, changed bool) {
	x.mu.Lock()
	if x.run != r {
		x.mu.Unlock()
		return
	}
	x.c.State.Health = &h
	if changed {
		if err := s.saveLocked(x); err != nil {
			s.log.Warn("persisting container health", "id", x.c.ID, "err", err)
		}
	}
	snap := x.c
	x.mu.Unlock()
	if changed {
		s.publish(snap, "health_status: "+h.Status, nil)
	}
}

// endHealthLocked marks the health of a container whose run ended
// unhealthy, as dockerd does when it stops a monitor; x.mu is held.
func endHealthLocked(x *ctr) {
	if h := x.c.State.Health; h != nil && h.Status != container.HealthUnhealthy {
		ended := h.Clone()
		ended.Status = container.HealthUnhealthy
		x.c.State.Health = ended
	}
}

// probeRunner runs health probes as execs in run r's VM, announced with
// the exec events dockerd sends for them.
type probeRunner struct {
	s *Containers
	x *ctr
	r *run
}

func (p probeRunner) Probe(ctx context.Context, argv []string, out io.Writer) (int, error) {
	c := p.x.snapshot()
	id := stringid.GenerateRandomID()
	cmdline := strings.Join(argv, " ")
	p.s.publish(c, "exec_create: "+cmdline, map[string]string{"execID": id})
	p.s.publish(c, "exec_start: "+cmdline, map[string]string{"execID": id})
	proc, err := p.r.sandbox.Exec(ctx, ExecRequest{
		ID: id,
		Process: ProcessSpec{
			Args:       argv,
			Env:        c.Config.Env,
			WorkingDir: c.Config.WorkingDir,
			User:       c.Config.User,
			Groups:     c.HostConfig.GroupAdd,
		},
		Stdio: Stdio{Stdout: out, Stderr: out},
	})
	if err != nil {
		return 0, err
	}
	status, err := proc.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			// Stopped (timeout or the run ended): end the probe too.
			kctx, cancel := context.WithTimeout(context.Background(), killGrace)
			_ = proc.Signal(kctx, syscall.SIGKILL)
			cancel()
		}
		return 0, err
	}
	p.s.publish(c, "exec_die", map[string]string{"execID": id, "exitCode": strconv.Itoa(status.Code)})
	return status.Code, nil
}
