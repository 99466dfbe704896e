package builder

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/guest/proto"
	"github.com/sirupsen/logrus"
)

// Requester sends a builder request to pierd and waits for its reply.
type Requester interface {
	Request(ctx context.Context, req proto.BuilderRequest) (proto.BuilderReply, error)
}

// HostError is an error pierd replied with.
type HostError struct{ Message string }

func (e *HostError) Error() string { return e.Message }

// ErrHostGone is returned for requests pierd can no longer answer: the
// daemon's stdin ended.
var ErrHostGone = errors.New("builder: pierd closed the daemon's stdin")

// Host multiplexes the builder protocol on the daemon's stdio: requests
// are written as lines on w (one writer at a time), one goroutine reads
// the replies from r and wakes the request with the same ID.
type Host struct {
	wmu sync.Mutex
	w   io.Writer

	mu      sync.Mutex
	pending map[string]chan proto.BuilderReply
	gone    bool

	next atomic.Uint64
}

// NewHost starts reading replies from r; requests go to w.
func NewHost(r io.Reader, w io.Writer) *Host {
	h := &Host{w: w, pending: map[string]chan proto.BuilderReply{}}
	go h.read(r)
	return h
}

func (h *Host) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var rep proto.BuilderReply
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			logrus.Warnf("builder: a reply line that is not JSON: %v", err)
			continue
		}
		h.mu.Lock()
		ch, ok := h.pending[rep.ID]
		delete(h.pending, rep.ID)
		h.mu.Unlock()
		if !ok {
			logrus.Warnf("builder: a reply for no request in flight (id %q)", rep.ID)
			continue
		}
		ch <- rep
	}
	if err := sc.Err(); err != nil {
		logrus.Warnf("builder: reading replies: %v", err)
	}
	h.mu.Lock()
	h.gone = true
	for id, ch := range h.pending {
		delete(h.pending, id)
		close(ch)
	}
	h.mu.Unlock()
}

func (h *Host) write(req proto.BuilderRequest) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_, err = h.w.Write(append(b, '\n'))
	return err
}

// Ready tells pierd the daemon serves (it needs no reply).
func (h *Host) Ready() error {
	return h.write(proto.BuilderRequest{Op: proto.BuilderReady})
}

// Request sends req under a fresh ID and waits for pierd's reply or ctx's
// end. A reply with an Error is returned as a *HostError.
func (h *Host) Request(ctx context.Context, req proto.BuilderRequest) (proto.BuilderReply, error) {
	req.ID = strconv.FormatUint(h.next.Add(1), 10)
	ch := make(chan proto.BuilderReply, 1)
	h.mu.Lock()
	if h.gone {
		h.mu.Unlock()
		return proto.BuilderReply{}, ErrHostGone
	}
	h.pending[req.ID] = ch
	h.mu.Unlock()
	forget := func() {
		h.mu.Lock()
		delete(h.pending, req.ID)
		h.mu.Unlock()
	}
	if err := h.write(req); err != nil {
		forget()
		return proto.BuilderReply{}, fmt.Errorf("builder: writing a %s request: %w", req.Op, err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return proto.BuilderReply{}, ErrHostGone
		}
		if rep.Error != "" {
			return rep, &HostError{Message: rep.Error}
		}
		return rep, nil
	case <-ctx.Done():
		forget()
		return proto.BuilderReply{}, context.Cause(ctx)
	}
}
