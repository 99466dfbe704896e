package netd

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vnet"
)

// FuzzControlConnection feeds a helper's connection handler arbitrary
// bytes: it must answer with well-formed responses (an error for
// nonsense), never panic, and end when the client stops writing.
func FuzzControlConnection(f *testing.F) {
	for _, seed := range []string{
		`{"op":"ping"}`,
		`{"op":"publications"}` + "\n" + `{"op":"release","owner":"a"}`,
		`{"op":"publish","owner":"a","proto":"tcp","host":"127.0.0.1:0","target":"172.30.0.2:80"}` + "\n" + `{"op":"publications","owner":"a"}`,
		`{"op":"dns","names":{"local":{"web":["172.30.0.2"]},"bySource":{"172.30.0.3":{"db":["172.31.0.2"]}}}}`,
		`{"op":"blocked","prefixes":["172.31.0.0/16"]}`,
		`{"op":"attach","datagram":true}` + "\n" + `{"op":"attach"}`,
		`{"op":"stop"}` + "\n" + `{"op":"ping"}`,
		"not json\n\n\r\n{}",
		`{"op":"publish","owner":"a","proto":"sctp","host":"x","target":"1.2.3.4:5"}`,
		`{"op":"dns","names":{"bySource":{"nope":{}}}}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := testConfig()
	s := &server{log: slog.New(slog.DiscardHandler), cfg: cfg, pubs: map[string][]*held{}, conns: map[*net.UnixConn]bool{}, stop: func() {}}
	s.names.Store(&vnet.Names{})
	s.blocked.Store(&[]netip.Prefix{})
	n, err := vnet.New(cfg.vnet(s.lookup, s.isBlocked))
	if err != nil {
		f.Fatal(err)
	}
	s.net = n
	f.Cleanup(func() { s.releaseAll(); n.Close() })
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(f.TempDir(), "c.sock"), Net: "unix"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })

	f.Fuzz(func(t *testing.T, input []byte) {
		defer s.releaseAll()
		client, err := net.DialUnix("unix", nil, l.Addr().(*net.UnixAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		srv, err := l.AcceptUnix()
		if err != nil {
			t.Fatal(err)
		}
		s.wg.Add(1)
		done := make(chan struct{})
		go func() { s.serveConn(srv); close(done) }()
		client.SetDeadline(time.Now().Add(10 * time.Second))
		go func() {
			client.Write(append(input, '\n'))
			client.CloseWrite()
		}()
		for {
			resp, fd, err := readResponse(client)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("reading a response: %v", err)
				}
				break
			}
			if resp.FD != (fd != nil) {
				t.Fatalf("response %+v with descriptor %v", resp, fd)
			}
			if fd != nil {
				fd.Close()
			}
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the connection handler did not return")
		}
	})
}
