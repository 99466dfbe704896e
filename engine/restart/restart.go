// Package restart is Docker's restart policies as pure decisions: which
// policies are valid, whether a container whose main process exited starts
// again, after which back-off, and which containers a starting daemon
// brings back. The engine's supervisor (engine/containers_restart.go)
// acts on them.
package restart

import (
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// Policy names, as Docker spells them ("" is "no").
const (
	No            = "no"
	Always        = "always"
	UnlessStopped = "unless-stopped"
	OnFailure     = "on-failure"
)

// Back-off between restarts: the first waits FirstDelay, each next one
// twice as long up to MaxDelay; a run of ResetAfter or more starts over.
const (
	FirstDelay = 100 * time.Millisecond
	MaxDelay   = time.Minute
	ResetAfter = 10 * time.Second
)

// Validate checks a policy with dockerd's texts; autoRemove (--rm) allows
// only "no".
func Validate(p container.RestartPolicy, autoRemove bool) error {
	switch p.Name {
	case Always, UnlessStopped, No:
		if p.MaximumRetryCount != 0 {
			msg := "invalid restart policy: maximum retry count can only be used with 'on-failure'"
			if p.MaximumRetryCount < 0 {
				msg += " and cannot be negative"
			}
			return errdefs.InvalidParameterf("%s", msg)
		}
	case OnFailure:
		if p.MaximumRetryCount < 0 {
			return errdefs.InvalidParameterf("invalid restart policy: maximum retry count cannot be negative")
		}
	case "":
	default:
		return errdefs.InvalidParameterf("invalid restart policy: unknown policy '%s'; use one of '%s', '%s', '%s', or '%s'", p.Name, No, Always, OnFailure, UnlessStopped)
	}
	if autoRemove && !IsNone(p) {
		return errdefs.InvalidParameterf("can't create 'AutoRemove' container with restart policy")
	}
	return nil
}

// IsNone says whether p never restarts.
func IsNone(p container.RestartPolicy) bool { return p.Name == "" || p.Name == No }

// ShouldRestart says whether a container whose main process exited with
// exitCode starts again: always; unless-stopped unless the user stopped it
// (manuallyStopped); on-failure for a non-zero code while restartCount is
// below the maximum (0: no maximum). The engine first rules out a
// container whose restarts the user called off (stop, kill) and a daemon
// that shuts down.
func ShouldRestart(p container.RestartPolicy, exitCode, restartCount int, manuallyStopped bool) bool {
	switch p.Name {
	case Always:
		return true
	case UnlessStopped:
		return !manuallyStopped
	case OnFailure:
		return exitCode != 0 && (p.MaximumRetryCount == 0 || restartCount < p.MaximumRetryCount)
	}
	return false
}

// AtDaemonStart says whether a starting daemon starts a container that is
// not running, as dockerd decides at boot: one that ran before and whose
// policy would restart it now. So always brings back even a container the
// user stopped; unless-stopped does not.
func AtDaemonStart(c container.Container) bool {
	return !c.State.StartedAt.IsZero() && ShouldRestart(c.HostConfig.RestartPolicy, c.State.ExitCode, c.RestartCount, c.ManuallyStopped)
}

// Backoff is the delay before the next restart of one container.
type Backoff struct {
	last time.Duration
}

// Next is the delay before restarting a container whose run lasted ran.
func (b *Backoff) Next(ran time.Duration) time.Duration {
	if ran >= ResetAfter {
		b.last = 0
	}
	switch {
	case b.last == 0:
		b.last = FirstDelay
	case b.last < MaxDelay:
		b.last *= 2
	}
	b.last = min(b.last, MaxDelay)
	return b.last
}

// Reset starts the back-off over (the user started the container).
func (b *Backoff) Reset() { b.last = 0 }
