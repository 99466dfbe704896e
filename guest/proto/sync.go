package proto

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// A connection to the agent starts with a sync exchange, before its yamux
// session: the host writes a sync line with a fresh nonce, the guest
// answers with an ack line carrying the same nonce, and each side skips
// whatever came before the other's line. A virtio-serial port is one byte
// stream for every host that connects to it in turn, and bytes of an
// earlier session can still be in flight when the next host connects (the
// guest's output queued while a restarted daemon was away, or a host's
// request cut off by its death); without the sync they would be read as
// the new session's first frames and break its handshake.
var (
	syncPrefix = []byte("\x00pier-sync ")
	ackPrefix  = []byte("\x00pier-ack ")
)

// nonceLen is the nonce's length in hex digits.
const nonceLen = 16

// maxStale bounds the bytes skipped while looking for the peer's line.
const maxStale = 16 << 20

// ErrNoSync is the error when the peer's line did not come within
// maxStale bytes.
var ErrNoSync = errors.New("proto: no sync line from the peer")

// syncHost runs the host's side of the sync on conn, bounded by ctx, and
// returns the connection to run the session on.
func syncHost(ctx context.Context, conn net.Conn) (net.Conn, error) {
	var raw [nonceLen / 2]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	nonce := hex.EncodeToString(raw[:])
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
		defer conn.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write(append(append([]byte{}, syncPrefix...), nonce+"\n"...)); err != nil {
		return nil, fmt.Errorf("sync with the guest agent: %w", err)
	}
	br := bufio.NewReader(conn)
	got, err := scanLine(br, ackPrefix)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("the guest agent did not answer the sync in time: %w", context.DeadlineExceeded)
		}
		return nil, fmt.Errorf("sync with the guest agent: %w", err)
	}
	for got != nonce {
		// An ack of an earlier host's sync: keep looking.
		if got, err = scanLine(br, ackPrefix); err != nil {
			return nil, fmt.Errorf("sync with the guest agent: %w", err)
		}
	}
	return &bufferedConn{Conn: conn, r: br}, nil
}

// AcceptSync runs the guest's side of the sync on rw: it skips everything
// up to the host's sync line, answers it, and returns what to run the
// session on.
func AcceptSync(rw io.ReadWriteCloser) (io.ReadWriteCloser, error) {
	br := bufio.NewReader(rw)
	nonce, err := scanLine(br, syncPrefix)
	if err != nil {
		return nil, err
	}
	if _, err := rw.Write(append(append([]byte{}, ackPrefix...), nonce+"\n"...)); err != nil {
		return nil, err
	}
	return &bufferedRWC{ReadWriteCloser: rw, r: br}, nil
}

// scanLine reads until prefix, a nonce of nonceLen hex digits and a
// newline, and returns the nonce.
func scanLine(br *bufio.Reader, prefix []byte) (string, error) {
	want := len(prefix) + nonceLen + 1
	window := make([]byte, 0, 2*want)
	for skipped := 0; skipped < maxStale; skipped++ {
		b, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		window = append(window, b)
		if len(window) > want {
			window = append(window[:0], window[len(window)-want:]...)
		}
		if b != '\n' || len(window) < want || !bytes.HasPrefix(window, prefix) {
			continue
		}
		nonce := string(window[len(prefix) : want-1])
		if _, err := hex.DecodeString(nonce); err == nil {
			return nonce, nil
		}
	}
	return "", ErrNoSync
}

// bufferedConn reads what the sync's reader buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// bufferedRWC is bufferedConn for the guest's port.
type bufferedRWC struct {
	io.ReadWriteCloser
	r *bufio.Reader
}

func (c *bufferedRWC) Read(p []byte) (int, error) { return c.r.Read(p) }
