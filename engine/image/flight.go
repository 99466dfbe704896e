package image

import (
	"context"
	"sync"
)

// flight is one pull in progress. Concurrent pulls of the same reference and
// platform join it: each subscriber first gets the lines emitted so far, then
// every later line, and all share the leader's result.
type flight struct {
	mu    sync.Mutex
	lines []Progress
	subs  map[int]func(Progress)
	next  int

	done chan struct{}
	img  *Image
	err  error
}

func newFlight() *flight {
	return &flight{subs: map[int]func(Progress){}, done: make(chan struct{})}
}

// emit records p and hands it to every subscriber, in order.
func (f *flight) emit(p Progress) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, p)
	for _, sub := range f.subs {
		sub(p)
	}
}

// subscribe replays the lines so far to fn and registers it for the rest;
// the returned function unregisters it.
func (f *flight) subscribe(fn func(Progress)) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.lines {
		fn(p)
	}
	id := f.next
	f.next++
	f.subs[id] = fn
	return func() {
		f.mu.Lock()
		delete(f.subs, id)
		f.mu.Unlock()
	}
}

// wait blocks until the flight ends or ctx is done.
func (f *flight) wait(ctx context.Context) (*Image, error) {
	select {
	case <-f.done:
		return f.img, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// join returns the flight for key, starting it with run when none is in
// progress. Only the caller that starts a flight runs it (synchronously);
// the others wait for its result.
func (s *Service) join(ctx context.Context, key string, progress func(Progress), run func(emit func(Progress)) (*Image, error)) (*Image, error) {
	s.flightsMu.Lock()
	f, running := s.flights[key]
	if !running {
		f = newFlight()
		s.flights[key] = f
	}
	cancel := f.subscribe(progress)
	s.flightsMu.Unlock()
	defer cancel()
	if running {
		return f.wait(ctx)
	}
	f.img, f.err = run(f.emit)
	s.flightsMu.Lock()
	delete(s.flights, key)
	s.flightsMu.Unlock()
	close(f.done)
	return f.img, f.err
}
