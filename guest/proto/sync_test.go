package proto

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// staleConn is a connection whose reads first return bytes of an earlier
// session (what a virtio-serial port can still hold for the next host).
type staleConn struct {
	net.Conn
	stale *bytes.Reader
}

func (c *staleConn) Read(p []byte) (int, error) {
	if c.stale.Len() > 0 {
		return c.stale.Read(p)
	}
	return c.Conn.Read(p)
}

// TestSyncSkipsAnEarlierSessionsBytes: both ends get bytes of an earlier
// session first (yamux frames, a half frame, an old ack and half a sync
// line); the handshake still succeeds. (A whole sync line of a host that
// died cannot be among them: QEMU hands a host's bytes to the guest while
// that host is connected, or drops them.)
func TestSyncSkipsAnEarlierSessionsBytes(t *testing.T) {
	host, guest := net.Pipe()
	oldGuestBytes := append([]byte{0, 2, 0, 1, 0, 0, 0, 3, 0, 0, 0, 9, 'x', 'y'}, []byte("\x00pier-ack 0123456789abcdef\n\x00pier-ack 01")...)
	oldHostBytes := append([]byte("\x00pier-sync 0123"), 0, 1, 0, 2, 0xff, '\n')
	go fakeAgent(t, &staleConn{Conn: guest, stale: bytes.NewReader(oldHostBytes)}, Version)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, &staleConn{Conn: host, stale: bytes.NewReader(oldGuestBytes)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info.Version != Version {
		t.Fatalf("info %+v", c.Info)
	}
}

func TestAcceptSyncGivesUpOnEndlessGarbage(t *testing.T) {
	r := io.LimitReader(zeros{}, maxStale+10)
	_, err := AcceptSync(readOnly{r})
	if err != ErrNoSync {
		t.Fatalf("got %v, want ErrNoSync", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

type readOnly struct{ io.Reader }

func (readOnly) Write(p []byte) (int, error) { return len(p), nil }
func (readOnly) Close() error                { return nil }
