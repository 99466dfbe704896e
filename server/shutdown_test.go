package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/pier-vm/pier/server/httputils"
)

// streamRouter has one route that streams until its request is cancelled,
// like GET /events.
type streamRouter struct{ started, ended chan struct{} }

func (s streamRouter) Routes() []httputils.Route {
	return []httputils.Route{{Method: http.MethodGet, Path: "/stream", Handler: func(w http.ResponseWriter, r *http.Request, _ map[string]string) error {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		close(s.started)
		<-r.Context().Done()
		close(s.ended)
		return nil
	}}}
}

func TestShutdownEndsStreamsPromptly(t *testing.T) {
	rt := streamRouter{started: make(chan struct{}), ended: make(chan struct{})}
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)), rt)
	l, err := Listen("unix://"+filepath.Join(t.TempDir(), "s.sock"), nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := &http.Client{Transport: &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) {
		return net.Dial("unix", l.Addr().String())
	}}}
	go func() {
		if res, err := c.Get("http://pier/v1.45/stream"); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}()
	<-rt.started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Shutdown waited %v for a stream", d)
	}
	select {
	case <-rt.ended:
	default:
		t.Fatal("the streaming handler was not cancelled")
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}
