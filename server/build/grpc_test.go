package build

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pier-vm/pier/server"
)

// echoBackend is a builder whose gRPC server and session manager echo
// what they get, upper-cased, and remember the session headers.
type echoBackend struct{ hdr http.Header }

func (b *echoBackend) Dial(ctx context.Context) (net.Conn, error) {
	ours, theirs := net.Pipe()
	go upper(theirs)
	return ours, nil
}

func (b *echoBackend) Session(ctx context.Context, hdr http.Header) (net.Conn, error) {
	b.hdr = hdr
	return b.Dial(ctx)
}

func upper(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, strings.ToUpper(line)); err != nil {
			return
		}
	}
}

func TestGRPCAndSessionUpgradeToTheBuilder(t *testing.T) {
	backend := &echoBackend{}
	ts := httptest.NewServer(server.New(slog.New(slog.DiscardHandler), NewRouter(backend)).Handler())
	defer ts.Close()
	for _, c := range []struct {
		path string
		hdr  string
	}{
		{"/grpc", ""},
		{"/session", "X-Docker-Expose-Session-Uuid: abc\r\nX-Docker-Expose-Session-Grpc-Method: /moby.filesync.v1.FileSync/DiffCopy\r\n"},
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		req := "POST " + c.path + " HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n" + c.hdr + "\r\n"
		if _, err := io.WriteString(conn, req+"hello\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "h2c" {
			t.Fatalf("%s: %s %v, want 101 to h2c", c.path, resp.Status, resp.Header)
		}
		line, err := r.ReadString('\n')
		if err != nil || line != "HELLO\n" {
			t.Fatalf("%s: read %q, %v through the upgraded connection", c.path, line, err)
		}
		conn.Close()
	}
	if got := backend.hdr.Get("X-Docker-Expose-Session-Uuid"); got != "abc" {
		t.Fatalf("session headers reaching the builder: %v", backend.hdr)
	}
}

func TestGRPCWithoutH2CIsRefused(t *testing.T) {
	s := server.New(slog.New(slog.DiscardHandler), NewRouter(&echoBackend{}))
	for _, c := range []struct{ path, upgrade, want string }{
		{"/grpc", "", "no upgrade proto in request"},
		{"/grpc", "tcp", "protocol tcp not supported"},
		{"/session", "h2c", "no session ID in request"},
	} {
		req := httptest.NewRequest(http.MethodPost, c.path, nil)
		if c.upgrade != "" {
			req.Header.Set("Upgrade", c.upgrade)
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), c.want) {
			t.Fatalf("%s Upgrade=%q: %d %s, want 400 %q", c.path, c.upgrade, rec.Code, rec.Body, c.want)
		}
	}
}
