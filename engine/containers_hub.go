package engine

import (
	"io"
	"sync"
)

// hub fans a container's output out to the attached clients. A client stays
// attached until the end of the run it saw (the current one, or the next one
// when it attached while the container was not running), or until a write
// to it fails.
type hub struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	stdout, stderr io.Writer
	done           chan struct{}
	once           sync.Once
}

func (s *subscriber) end() { s.once.Do(func() { close(s.done) }) }

func newHub() *hub { return &hub{subs: map[*subscriber]struct{}{}} }

// add attaches writers (either may be nil) and returns the subscription.
func (h *hub) add(stdout, stderr io.Writer) *subscriber {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := &subscriber{stdout: stdout, stderr: stderr, done: make(chan struct{})}
	h.subs[s] = struct{}{}
	return s
}

// remove detaches s.
func (h *hub) remove(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	s.end()
}

// endRun detaches everyone: the run they watched is over.
func (h *hub) endRun() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		delete(h.subs, s)
		s.end()
	}
}

// writer returns the writer of one stream (stderr selects the stream).
func (h *hub) writer(stderr bool) io.Writer { return hubWriter{h: h, stderr: stderr} }

type hubWriter struct {
	h      *hub
	stderr bool
}

// Write never fails: a subscriber that cannot take the bytes is dropped.
func (w hubWriter) Write(p []byte) (int, error) {
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	for s := range w.h.subs {
		dst := s.stdout
		if w.stderr {
			dst = s.stderr
		}
		if dst == nil {
			continue
		}
		if _, err := dst.Write(p); err != nil {
			delete(w.h.subs, s)
			s.end()
		}
	}
	return len(p), nil
}
