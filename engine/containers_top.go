package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/pier-vm/pier/engine/ps"
	"github.com/pier-vm/pier/errdefs"
)

// docker top: the processes of a container's guest (Sandbox.Processes)
// laid out as ps would with the client's ps_args (engine/ps). PIDs are
// guest PIDs: the container's processes as seen from inside its VM.

// TopResult is docker top's answer.
type TopResult struct {
	Titles    []string
	Processes [][]string
}

// topTimeout bounds the guest's answer.
const topTimeout = 30 * time.Second

// ContainerTop lists the running container's processes; psArgs are ps's
// options ("" for ps.DefaultArgs).
func (s *Containers) ContainerTop(ctx context.Context, ref, psArgs string) (TopResult, error) {
	if psArgs == "" {
		psArgs = ps.DefaultArgs
	}
	x, err := s.get(ref)
	if err != nil {
		return TopResult{}, err
	}
	x.mu.Lock()
	r, c, restarting := x.run, x.c, x.restarts.pending != nil
	x.mu.Unlock()
	switch {
	case restarting:
		return TopResult{}, errRestarting(c.ID)
	case r == nil:
		return TopResult{}, errNotRunning(c.ID)
	}
	var list ProcessList
	if view := x.pausedView(r); view != nil {
		if view.procs == nil {
			return TopResult{}, errdefs.Unavailable(fmt.Errorf("container %s is paused and its processes could not be read before", c.ID))
		}
		list = *view.procs
	} else {
		tctx, cancel := context.WithTimeout(ctx, topTimeout)
		defer cancel()
		if list, err = r.sandbox.Processes(tctx); err != nil {
			return TopResult{}, err
		}
	}
	titles, rows, err := ps.Format(psArgs, list, time.Now())
	if err != nil {
		return TopResult{}, err
	}
	s.publish(c, "top", nil)
	return TopResult{Titles: titles, Processes: rows}, nil
}
