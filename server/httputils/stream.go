package httputils

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/versions"
)

// StreamMediaType is the Content-Type of an attach, exec or logs stream:
// multiplexed (stdcopy frames) without a TTY from API 1.42 on, raw
// otherwise (older clients expect raw-stream for both).
func StreamMediaType(ctx context.Context, tty bool) string {
	if !tty && versions.GreaterThanOrEqualTo(VersionFromContext(ctx), "1.42") {
		return types.MediaTypeMultiplexedStream
	}
	return types.MediaTypeRawStream
}

// Hijacked is a connection taken over from net/http for a bidirectional
// stream. Read the client's bytes from In (it holds what net/http had
// already buffered), write to Conn.
type Hijacked struct {
	Conn net.Conn
	In   io.Reader
}

// Close closes the connection.
func (h *Hijacked) Close() error { return h.Conn.Close() }

// CloseWrite half-closes the connection when the transport allows it.
func (h *Hijacked) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Hijack takes the connection over and writes the response head as dockerd
// does: "101 UPGRADED" when the client asked for an upgrade
// (Connection: Upgrade, Upgrade: tcp), else a plain 200 for old clients.
func Hijack(w http.ResponseWriter, r *http.Request, contentType string) (*Hijacked, error) {
	hj, respond, err := HijackDeferred(w, r, contentType)
	if err != nil {
		return nil, err
	}
	if err := respond(); err != nil {
		hj.Close()
		return nil, err
	}
	return hj, nil
}

// HijackDeferred takes the connection over like Hijack but writes the
// response head only when respond is called: until then, writes to Conn
// wait. An attach registers for the container's output first and only
// then lets the client go on (the client starts the container once it has
// the head), so no output is missed. respond is safe to call more than
// once.
func HijackDeferred(w http.ResponseWriter, r *http.Request, contentType string) (*Hijacked, func() error, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("this connection cannot be hijacked")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n\r\n"
	if strings.EqualFold(r.Header.Get("Upgrade"), "tcp") || headerHasToken(r.Header, "Connection", "upgrade") {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	gc := &gatedConn{Conn: conn, open: make(chan struct{})}
	var once sync.Once
	var headErr error
	respond := func() error {
		once.Do(func() {
			if _, err := io.WriteString(conn, head); err != nil {
				headErr = fmt.Errorf("writing the upgrade response: %w", err)
				conn.Close()
			}
			close(gc.open)
		})
		return headErr
	}
	var in io.Reader = conn
	if brw != nil && brw.Reader.Buffered() > 0 {
		in = io.MultiReader(io.LimitReader(brw.Reader, int64(brw.Reader.Buffered())), conn)
	}
	return &Hijacked{Conn: gc, In: in}, respond, nil
}

// gatedConn holds writes until open is closed (the response head is out).
type gatedConn struct {
	net.Conn
	open chan struct{}
}

func (c *gatedConn) Write(b []byte) (int, error) {
	<-c.open
	return c.Conn.Write(b)
}

// CloseWrite half-closes the underlying connection when it can.
func (c *gatedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// FlushWriter flushes after every write, for streamed responses (logs -f,
// events). It is safe for concurrent use.
type FlushWriter struct {
	mu sync.Mutex
	w  io.Writer
	f  http.Flusher
}

// NewFlushWriter wraps w; when w cannot flush, writes go through as is.
func NewFlushWriter(w http.ResponseWriter) *FlushWriter {
	f, _ := w.(http.Flusher)
	return &FlushWriter{w: w, f: f}
}

func (fw *FlushWriter) Write(p []byte) (int, error) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	n, err := fw.w.Write(p)
	if fw.f != nil {
		fw.f.Flush()
	}
	return n, err
}
