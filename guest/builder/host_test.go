package builder

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

func TestHostRepliesByID(t *testing.T) {
	f, h := newFakeHost(t, func(req proto.BuilderRequest) proto.BuilderReply {
		if req.Ref == "slow" {
			time.Sleep(100 * time.Millisecond)
		}
		if req.Ref == "bad" {
			return proto.BuilderReply{Error: "no such image"}
		}
		return proto.BuilderReply{Image: "img-" + req.Ref}
	})
	ctx := context.Background()
	errc := make(chan error, 1)
	go func() {
		rep, err := h.Request(ctx, proto.BuilderRequest{Op: proto.BuilderResolve, Ref: "slow"})
		if err == nil && rep.Image != "img-slow" {
			err = errors.New("slow got " + rep.Image)
		}
		errc <- err
	}()
	rep, err := h.Request(ctx, proto.BuilderRequest{Op: proto.BuilderResolve, Ref: "fast"})
	if err != nil || rep.Image != "img-fast" {
		t.Fatalf("fast: %+v, %v", rep, err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	_, err = h.Request(ctx, proto.BuilderRequest{Op: proto.BuilderResolve, Ref: "bad"})
	var he *HostError
	if !errors.As(err, &he) || he.Message != "no such image" {
		t.Fatalf("bad: want the host's error, got %v", err)
	}
	ids := map[string]bool{}
	for _, r := range f.requests(proto.BuilderResolve) {
		if r.ID == "" || ids[r.ID] {
			t.Fatalf("request IDs are not unique: %+v", f.requests(proto.BuilderResolve))
		}
		ids[r.ID] = true
	}
	if len(ids) != 3 {
		t.Fatalf("want 3 requests, host saw %d", len(ids))
	}
}

func TestHostGone(t *testing.T) {
	repR, repW := io.Pipe()
	var sb strings.Builder
	h := NewHost(repR, &sb)
	errc := make(chan error, 1)
	go func() {
		_, err := h.Request(context.Background(), proto.BuilderRequest{Op: proto.BuilderResolve})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	repW.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrHostGone) {
			t.Fatalf("want ErrHostGone, got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a request in flight was not failed when stdin ended")
	}
	if _, err := h.Request(context.Background(), proto.BuilderRequest{Op: proto.BuilderResolve}); !errors.Is(err, ErrHostGone) {
		t.Fatalf("after the end: want ErrHostGone, got %v", err)
	}
	if err := h.Ready(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(sb.String(), `{"op":"ready"}`+"\n") {
		t.Fatalf("ready line: %q", sb.String())
	}
}

func TestHostRequestCancelled(t *testing.T) {
	_, h := newFakeHost(t, func(proto.BuilderRequest) proto.BuilderReply {
		time.Sleep(time.Second)
		return proto.BuilderReply{}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Request(ctx, proto.BuilderRequest{Op: proto.BuilderResolve}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the context's error, got %v", err)
	}
}
