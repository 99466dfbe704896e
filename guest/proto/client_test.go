package proto

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// fakeAgent answers every hello with the given version.
func fakeAgent(t *testing.T, conn net.Conn, version int) {
	t.Helper()
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	rwc, err := AcceptSync(conn)
	if err != nil {
		t.Error(err)
		return
	}
	session, err := yamux.Server(rwc, cfg)
	if err != nil {
		t.Error(err)
		return
	}
	t.Cleanup(func() { session.Close() })
	go func() {
		for {
			s, err := session.Accept()
			if err != nil {
				return
			}
			var req Request
			if ReadMessage(s, &req) == nil && req.Op == OpHello {
				WriteMessage(s, Response{Hello: &HelloInfo{Version: version, KernelRelease: "6.1-test", Arch: "amd64"}})
			}
			s.Close()
		}
	}()
}

func TestDialAcceptsSameVersion(t *testing.T) {
	host, guest := net.Pipe()
	go fakeAgent(t, guest, Version)
	c, err := Dial(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Info.KernelRelease != "6.1-test" || c.Info.Version != Version {
		t.Fatalf("info = %+v", c.Info)
	}
}

func TestDialRefusesOtherVersion(t *testing.T) {
	host, guest := net.Pipe()
	go fakeAgent(t, guest, Version+1)
	_, err := Dial(context.Background(), host)
	if err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("want a version mismatch error, got %v", err)
	}
}

func TestDialTimesOutOnSilentPeer(t *testing.T) {
	host, guest := net.Pipe()
	defer guest.Close()
	go io.Copy(io.Discard, guest) // reads everything, never answers
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, host)
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("want a timeout error, got %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("Dial took %v", time.Since(start))
	}
}

func TestFramesRoundTrip(t *testing.T) {
	host, guest := net.Pipe()
	go func() {
		WriteFrame(guest, FrameStdout, []byte("hi"))
		WriteFrame(guest, FrameExit, nil)
	}()
	for _, want := range []struct {
		t FrameType
		p string
	}{{FrameStdout, "hi"}, {FrameExit, ""}} {
		ft, p, err := ReadFrame(host)
		if err != nil || ft != want.t || string(p) != want.p {
			t.Fatalf("frame %v %q %v, want %v %q", ft, p, err, want.t, want.p)
		}
	}
}
