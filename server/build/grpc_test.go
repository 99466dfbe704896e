package build

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	enginebuild "github.com/pier-vm/pier/engine/build"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/server"
)

// echoBackend is a builder whose gRPC server and session manager echo
// what they get, upper-cased, and remember the session headers.
type echoBackend struct {
	hdr    http.Header
	pruned *enginebuild.PruneOptions
}

func (b *echoBackend) Dial(ctx context.Context) (net.Conn, error) {
	ours, theirs := net.Pipe()
	go upper(theirs)
	return ours, nil
}

func (b *echoBackend) Session(ctx context.Context, hdr map[string][]string) (net.Conn, error) {
	b.hdr = http.Header(hdr)
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

func (b *echoBackend) Build(ctx context.Context, req enginebuild.Request, out func(string)) (string, error) {
	if req.Dockerfile == "missing" {
		return "", errdefs.InvalidParameterf("Cannot locate specified Dockerfile: %s", req.Dockerfile)
	}
	if req.Target == "fail" {
		out("#1 RUN false\n")
		return "", errors.New(`process "/bin/sh -c false" did not complete successfully: exit code: 1`)
	}
	body, _ := io.ReadAll(req.Context)
	out("context " + string(body) + " args " + req.BuildArgs["A"] + " labels " + req.Labels["l"] + "\n")
	return "sha256:0123456789abcdef0123", nil
}

func TestClassicBuildStream(t *testing.T) {
	s := server.New(slog.New(slog.DiscardHandler), NewRouter(&echoBackend{}))
	for _, c := range []struct {
		query string
		code  int
		want  []string
	}{
		{`t=x:1&buildargs={"A":"a","B":null}&labels={"l":"v"}`, 200, []string{
			`{"stream":"context CTX args a labels v\n"}`, `{"aux":{"ID":"sha256:0123456789abcdef0123"}}`,
			`{"stream":"Successfully built 0123456789ab\n"}`, `{"stream":"Successfully tagged x:1\n"}`}},
		{`q=1`, 200, []string{`{"aux":{"ID":"sha256:0123456789abcdef0123"}}`}},
		{`dockerfile=missing`, 400, []string{`{"message":"Cannot locate specified Dockerfile: missing"}`}},
		{`target=fail`, 200, []string{`{"stream":"#1 RUN false\n"}`, `"errorDetail":{"message":"process \"/bin/sh -c false\" did not complete successfully: exit code: 1"}`}},
		{`buildargs=nope`, 400, []string{`invalid buildargs`}},
		{`remote=https://example.invalid/x.git`, 501, []string{`remote contexts`}},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1.51/build?"+c.query, strings.NewReader("CTX")))
		if rec.Code != c.code {
			t.Fatalf("%s: %d %s, want %d", c.query, rec.Code, rec.Body, c.code)
		}
		for _, w := range c.want {
			if !strings.Contains(rec.Body.String(), w) {
				t.Fatalf("%s: %s\nwant it to hold %s", c.query, rec.Body, w)
			}
		}
	}
}

func (b *echoBackend) Prune(ctx context.Context, opts enginebuild.PruneOptions) (enginebuild.PruneReport, error) {
	b.pruned = &opts
	return enginebuild.PruneReport{Deleted: []string{"rec1", "rec2"}, Reclaimed: 4096}, nil
}

func TestBuildPruneAsksTheBuilder(t *testing.T) {
	backend := &echoBackend{}
	s := server.New(slog.New(slog.DiscardHandler), NewRouter(backend))
	prune := func(q string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1.51/build/prune?"+q, nil))
		return rec
	}
	rec := prune(`all=1&reserved-space=1000&filters={"until":{"24h":true},"type":{"regular":true},"id":{"abc":true},"label!":{"keep":true}}`)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"CachesDeleted":["rec1","rec2"],"SpaceReclaimed":4096}` {
		t.Fatalf("prune: %d %s", rec.Code, rec.Body)
	}
	// As dockerd: id as a substring, the rest exact, all in one BuildKit
	// filter (every one must hold); label and label! accepted, unused.
	o := backend.pruned
	if o == nil || !o.All || o.ReservedSpace != 1000 || (o.KeepDuration-24*time.Hour).Abs() > time.Second || len(o.Filters) != 1 || o.Filters[0] != "id~=abc,type==regular" {
		t.Fatalf("prune options: %+v", o)
	}
	stamp := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	if rec := prune(`filters={"unused-for":{"` + stamp + `":true}}`); rec.Code != 200 || (backend.pruned.KeepDuration-time.Hour).Abs() > 2*time.Second {
		t.Fatalf("unused-for a timestamp: %d %s, %+v", rec.Code, rec.Body, backend.pruned)
	}
	for q, want := range map[string]string{
		`filters={"color":{"red":true}}`:                         "invalid filter 'color'",
		`filters={"until":{"soon":true}}`:                        "filter expects a duration (e.g., '24h') or a timestamp",
		`filters={"until":{"1h":true},"unused-for":{"2h":true}}`: "conflicting filters:",
		`filters={"type":{"regular":true,"source.local":true}}`:  "filters expect only one value",
		`reserved-space=-1`:                                      "reserved-space is invalid",
	} {
		if rec := prune(q); rec.Code != 400 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("prune?%s: %d %s, want 400 with %s", q, rec.Code, rec.Body, want)
		}
	}
}
