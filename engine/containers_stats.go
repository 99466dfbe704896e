package engine

import (
	"context"
	"errors"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// docker stats: samples of the counters of a container's guest
// (Sandbox.Stats), one per second when streamed, as dockerd's collector.

// StatsInterval is the time between two samples of a stream.
const StatsInterval = time.Second

// statsTimeout bounds one sample.
const statsTimeout = 10 * time.Second

// StatsOptions tune ContainerStats.
type StatsOptions struct {
	// Stream sends a sample every StatsInterval until ctx ends.
	Stream bool
	// OneShot sends one sample at once, without the previous one (which
	// docker stats needs for a CPU percentage); without Stream and
	// OneShot, the sample is sent one interval after a first, which
	// becomes its Pre.
	OneShot bool
}

// StatsEntry is one sample as sent: Stats is nil for a container that is
// not running (dockerd then sends only its name and ID); Pre is the
// stream's previous sample (nil for the first).
type StatsEntry struct {
	ID, Name string
	Stats    *Stats
	Pre      *Stats
}

// ContainerStats emits the container's samples: once, or every second
// while Stream and ctx lasts. Errors before the first emit are the
// caller's to report; a container that stops while streamed goes on with
// empty samples, as under dockerd.
func (s *Containers) ContainerStats(ctx context.Context, ref string, opts StatsOptions, emit func(StatsEntry) error) error {
	x, err := s.get(ref)
	if err != nil {
		return err
	}
	if opts.Stream && opts.OneShot {
		return errdefs.InvalidParameter(errors.New("cannot have stream=true and one-shot=true"))
	}
	c := x.snapshot()
	entry := StatsEntry{ID: c.ID, Name: c.Name}
	x.mu.Lock()
	active := x.run != nil
	x.mu.Unlock()
	if !active && !opts.Stream {
		return emit(entry)
	}
	if opts.OneShot {
		entry.Stats = s.sample(ctx, x)
		return emit(entry)
	}
	var pre *Stats
	first := true
	tick := time.NewTicker(StatsInterval)
	defer tick.Stop()
	for {
		x.mu.Lock()
		removed := x.removed
		x.mu.Unlock()
		if removed {
			return nil // as dockerd, the stream of a removed container ends
		}
		cur := s.sample(ctx, x)
		if ctx.Err() != nil {
			return nil
		}
		if opts.Stream || !first {
			if err := emit(StatsEntry{ID: c.ID, Name: c.Name, Stats: cur, Pre: pre}); err != nil {
				return err
			}
			if !opts.Stream {
				return nil
			}
		}
		first, pre = false, cur
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sample reads the container's counters: nil when it is not running (or
// its guest does not answer), the counters of the moment it was paused
// while it is paused.
func (s *Containers) sample(ctx context.Context, x *ctr) *Stats {
	x.mu.Lock()
	r := x.run
	x.mu.Unlock()
	if r == nil {
		return nil
	}
	if view := x.pausedView(r); view != nil {
		if view.stats == nil {
			return nil
		}
		st := *view.stats
		st.Read = time.Now()
		return &st
	}
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	st, err := r.sandbox.Stats(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Debug("stats", "id", x.snapshot().ID, "err", err)
		}
		return nil
	}
	return &st
}
