package engine

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/health"
)

// Live restore: a container's VM does not depend on the daemon's process,
// so a daemon that stops (with LiveRestore) leaves the running containers
// running, and the next daemon adopts them before it serves: their VMs
// through the runtime (SandboxAdopter), their logs from where the file
// ends (containerlog.ResumeSession), their addresses on their networks, and
// their health checks. A container whose VM is gone by then is recorded
// as exited as its guest recorded it (or as a VM death, 137), and its
// restart policy applies.

// adoptConcurrency bounds the VMs reconnected at once.
const adoptConcurrency = 4

// adoptRunning adopts every container in toAdopt (recorded running or
// paused by the previous daemon) and returns how many it adopted.
func (s *Containers) adoptRunning(ctx context.Context, adopter SandboxAdopter, toAdopt []*ctr) int {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		adopted int
		sem     = make(chan struct{}, adoptConcurrency)
	)
	for _, x := range toAdopt {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if s.adopt(ctx, adopter, x) {
				mu.Lock()
				adopted++
				mu.Unlock()
				return
			}
			// A container run with --rm that ended while no daemon ran
			// goes, as it would have.
			x.mu.Lock()
			autoRemove := x.c.HostConfig.AutoRemove && !x.removing
			if autoRemove {
				x.removing = true
			}
			x.mu.Unlock()
			if autoRemove {
				if err := s.destroy(x, true); err != nil {
					s.log.Error("auto-removing a container that ended while the daemon was away", "id", x.snapshot().ID, "err", err)
				}
			}
		}()
	}
	wg.Wait()
	return adopted
}

// adopt takes over one container's running VM, or records it exited.
func (s *Containers) adopt(ctx context.Context, adopter SandboxAdopter, x *ctr) bool {
	x.op.Lock()
	defer x.op.Unlock()
	c := x.snapshot()
	logOut, logErr, haveOut, haveErr, err := x.log.ResumeSession(c.LogStart)
	if err != nil {
		s.recordGone(x, &SandboxGoneError{Reason: "cannot reopen the container's log: " + err.Error()})
		return false
	}
	dir := s.store.Dir(c.ID)
	req := AdoptRequest{
		ContainerID: c.ID,
		StateDir:    filepath.Join(dir, "vm"),
		ConsoleLog:  filepath.Join(dir, "console.log"),
		Stdio: Stdio{
			Stdout: io.MultiWriter(logOut, x.output.writer(false)),
			Stderr: io.MultiWriter(logErr, x.output.writer(true)),
		},
		Have:   OutputOffsets{Stdout: haveOut, Stderr: haveErr},
		Mounts: c.MountPoints,
		Paused: c.State.Paused,
	}
	if c.Config.OpenStdin {
		req.Stdio.Stdin = x.stdin.reader()
	}
	sb, err := adopter.Adopt(ctx, req)
	if err != nil {
		_ = x.log.EndSession()
		var gone *SandboxGoneError
		if !errors.As(err, &gone) {
			gone = &SandboxGoneError{Reason: "cannot take over the container's VM: " + err.Error()}
		}
		s.recordGone(x, gone)
		return false
	}
	held := s.readoptNetworks(c)
	r := &run{sandbox: sb, net: held, done: make(chan struct{})}
	x.mu.Lock()
	x.run = r
	var hm *health.Monitor
	if !x.c.State.Paused {
		hm = s.healthMonitorOfLocked(x, r)
	}
	saveErr := s.saveLocked(x)
	x.notifyLocked()
	snap := x.c
	x.mu.Unlock()
	if saveErr != nil {
		s.log.Error("persisting an adopted container", "id", c.ID, "err", saveErr)
	}
	if hm != nil && snap.State.Health != nil {
		s.startHealth(r, hm, *snap.State.Health)
	}
	go s.monitor(x, r)
	return true
}

// recordGone records a container whose VM did not outlive the daemon's
// absence as exited, as its guest recorded the exit (or 255 when nothing
// is known).
func (s *Containers) recordGone(x *ctr, gone *SandboxGoneError) {
	x.mu.Lock()
	defer x.mu.Unlock()
	code, oom, msg, at := 255, false, gone.Reason, time.Now()
	if st := gone.Status; st != nil {
		code, oom, at = st.Code, st.OOMKilled, st.ExitedAt
		if st.Code != vmDeathCode {
			msg = "" // a clean exit while the daemon was away
		}
	}
	x.c.State.SetExited(code, oom, msg, at.UTC())
	endHealthLocked(x)
	clearNetworkState(&x.c)
	if err := s.saveLocked(x); err != nil {
		s.log.Error("persisting a container that exited while the daemon was away", "id", x.c.ID, "err", err)
	}
	s.log.Warn("a container did not outlive the daemon's absence", "id", x.c.ID, "exitCode", code, "reason", gone.Reason)
	x.notifyLocked()
}

// vmDeathCode is the exit code of a container whose VM died (SIGKILL).
const vmDeathCode = 137

// readoptNetworks records the adopted container's endpoints again and
// makes sure its networks' switches run (the helpers that kept serving
// while no daemon ran, reconnected); the switch that holds the
// container's published ports releases them when it stops.
func (s *Containers) readoptNetworks(c container.Container) *netAttachment {
	held := &netAttachment{containerID: c.ID}
	for name, ep := range c.Networks {
		if ep == nil || ep.IPAddress == "" || ep.NetworkID == "" {
			continue
		}
		addr, err := netip.ParseAddr(ep.IPAddress)
		if err != nil {
			continue
		}
		sw, _, err := s.nets.SwitchFor(ep.NetworkID)
		if err != nil {
			s.log.Warn("adopted container: network not running", "id", c.ID, "network", name, "err", err)
		} else if pubs, err := sw.Publications(c.ID); err == nil && len(pubs) > 0 {
			held.published = sw
		}
		if err := s.nets.Readopt(ep.NetworkID, c.ID, ep.EndpointID, addr, ep.DNSNames); err != nil {
			s.log.Warn("adopted container: cannot record its address again", "id", c.ID, "network", name, "err", err)
		}
	}
	return held
}

// detachAll leaves every running container running as the daemon stops
// (live restore): health checks stop, the connections to the VMs close,
// attached clients see the end of the stream; the VMs and their main
// processes go on. Sandboxes that cannot be left (no Detacher) are
// stopped.
func (s *Containers) detachAll() {
	for _, x := range s.all() {
		x.mu.Lock()
		r := x.run
		s.endPendingRestartLocked(x)
		x.mu.Unlock()
		s.killMaintenance(x)
		if r == nil {
			continue
		}
		d, ok := r.sandbox.(Detacher)
		if !ok {
			_ = s.signal(x, r, syscall.SIGTERM)
			if !waitDone(r.done, killGrace) {
				_ = r.sandbox.Kill()
			}
			<-r.done
			continue
		}
		r.stopHealth()
		d.Detach()
		<-r.done
	}
}

// RunningIDs are the IDs of the containers whose VMs run (adopted ones
// included).
func (s *Containers) RunningIDs() map[string]bool {
	out := map[string]bool{}
	for _, x := range s.all() {
		x.mu.Lock()
		if x.run != nil {
			out[x.c.ID] = true
		}
		x.mu.Unlock()
	}
	return out
}
