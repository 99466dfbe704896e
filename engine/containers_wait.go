package engine

import (
	"context"

	"github.com/pier-vm/pier/errdefs"
)

// Wait conditions, as Docker names them.
const (
	WaitNotRunning = "not-running"
	WaitNextExit   = "next-exit"
	WaitRemoved    = "removed"
)

// WaitResult is what a wait reports.
type WaitResult struct {
	StatusCode int
	// Error is set when the exit status is lost.
	Error string
}

// ContainerWait validates the request at once, then delivers one result on
// the channel once the condition holds ("" means not-running). The channel
// is closed without a result when ctx ends first.
func (s *Containers) ContainerWait(ctx context.Context, ref, condition string) (<-chan WaitResult, error) {
	switch condition {
	case "":
		condition = WaitNotRunning
	case WaitNotRunning, WaitNextExit, WaitRemoved:
	default:
		return nil, errdefs.InvalidParameterf("invalid condition: %q", condition)
	}
	x, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	startExits := x.exits
	x.mu.Unlock()

	out := make(chan WaitResult, 1)
	go func() {
		defer close(out)
		for {
			x.mu.Lock()
			done := x.removed
			switch condition {
			case WaitNotRunning:
				// A restarting container counts as running, as under
				// dockerd; its next exit still ends the wait.
				done = done || (x.run == nil && x.restarts.pending == nil) || x.exits > startExits
			case WaitNextExit:
				done = done || x.exits > startExits
			}
			res := WaitResult{StatusCode: x.c.State.ExitCode, Error: x.c.State.Error}
			changed := x.changed
			x.mu.Unlock()
			if done {
				out <- res
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
