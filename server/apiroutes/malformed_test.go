package apiroutes_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/api/types/volume"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/internal/apitest"
)

// badRequest is one malformed request of the corpus.
type badRequest struct {
	method, path string // path: raw, already escaped as it goes on the wire
	body         []byte
	huge         int64 // when > 0, the body is body followed by filler to this size
	auth         string
}

func (b badRequest) String() string {
	body := string(b.body)
	if len(body) > 80 {
		body = body[:80] + "…"
	}
	if b.huge > 0 {
		body += fmt.Sprintf(" (%d bytes)", b.huge)
	}
	path := b.path
	if len(path) > 120 {
		path = path[:120] + "…"
	}
	if b.auth != "" {
		body += " X-Registry-Auth: " + b.auth
	}
	return fmt.Sprintf("%s %s %q", b.method, path, body)
}

// jsonBodies are the routes that read a JSON body, with the type dockerd
// decodes it into.
func jsonBodies() []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{"POST", "/containers/create?name=bad", container.CreateRequest{}},
		{"POST", "/containers/c1/update", container.UpdateConfig{}},
		{"POST", "/containers/c1/exec", container.ExecOptions{}},
		{"POST", "/exec/e1/start", container.ExecStartOptions{}},
		{"POST", "/networks/create", network.CreateRequest{}},
		{"POST", "/networks/n1/connect", network.ConnectOptions{}},
		{"POST", "/networks/n1/disconnect", network.DisconnectOptions{}},
		{"POST", "/volumes/create", volume.CreateOptions{}},
		{"POST", "/auth", registry.AuthConfig{}},
	}
}

// syntaxErrors are bodies that are not JSON, or not a JSON object.
var syntaxErrors = []string{
	`{`, `}`, `[`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `tru`, `"unterminated`, `[1,2`, `nul`,
	"\xff\xfe\x00", `<xml/>`, `[]`, `"a string"`, `123`, `true`, `{"Image":"busybox"`,
	`{"Labels":` + strings.Repeat("[", 20000), `{"a":"\u12"}`, `{'single':'quotes'}`,
}

// wrongValues are JSON values of a type other than t's.
func wrongValues(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return []string{`123`, `{}`}
	case reflect.Bool:
		return []string{`"yes"`, `[]`}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return []string{`"many"`, `1.5`, `{}`}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return []string{`"many"`, `-1`}
	case reflect.Float32, reflect.Float64:
		return []string{`"many"`}
	case reflect.Slice, reflect.Array:
		return []string{`123`, `{"a":1}`}
	case reflect.Map:
		return []string{`"x"`, `[1]`}
	case reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return []string{`123`, `"yesterday"`}
		}
		return []string{`"x"`, `[1]`}
	}
	return nil // interfaces take anything
}

// wrongTypeBodies makes, for every field of t (embedded structs flattened
// as encoding/json does, struct fields descended into depth levels), a
// body that gives the field a value of the wrong type.
func wrongTypeBodies(t reflect.Type, depth int, wrap func(string) string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			out = append(out, wrongTypeBodies(ft, depth, wrap)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		key, _ := json.Marshal(name)
		for _, v := range wrongValues(f.Type) {
			out = append(out, wrap(fmt.Sprintf(`{%s:%s}`, key, v)))
		}
		if depth > 0 && ft.Kind() == reflect.Struct && ft != reflect.TypeOf(time.Time{}) {
			inner := func(s string) string { return wrap(fmt.Sprintf(`{%s:%s}`, key, s)) }
			out = append(out, wrongTypeBodies(ft, depth-1, inner)...)
		}
	}
	return out
}

// pathTricks are names that try to leave their route: encoded slashes,
// dot segments, NUL bytes, invalid UTF-8, and very long names.
var pathTricks = []string{
	"..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a%00b", "%00", "%ff%fe", "a%20b", "..;", "%252e%252e%252f",
	strings.Repeat("a", 4096), strings.Repeat("%2F", 300), "a%2Fb%2F..%2F..%2F..", ".%00.",
}

// namedRoutes are pier's routes with a name or ID in the path ({} is it).
var namedRoutes = []string{
	"GET /containers/{}/json", "GET /containers/{}/logs?stdout=1", "POST /containers/{}/start",
	"POST /containers/{}/stop", "POST /containers/{}/kill", "POST /containers/{}/restart",
	"POST /containers/{}/wait", "POST /containers/{}/attach?stream=1&stdout=1", "POST /containers/{}/resize?h=1&w=1",
	"POST /containers/{}/rename?name=x", "POST /containers/{}/update", "HEAD /containers/{}/archive?path=/",
	"GET /containers/{}/archive?path=/", "PUT /containers/{}/archive?path=/", "GET /containers/{}/export",
	"GET /containers/{}/changes", "DELETE /containers/{}", "POST /containers/{}/exec",
	"GET /containers/{}/stats?stream=0", "GET /containers/{}/top", "POST /containers/{}/pause", "POST /containers/{}/unpause",
	"POST /exec/{}/start", "POST /exec/{}/resize?h=1&w=1", "GET /exec/{}/json",
	"GET /images/{}/history", "POST /images/{}/push", "GET /distribution/{}/json", "GET /images/{}/json",
	"GET /images/{}/get", "POST /images/{}/tag?repo=x", "DELETE /images/{}",
	"GET /networks/{}", "DELETE /networks/{}", "POST /networks/{}/connect", "POST /networks/{}/disconnect",
	"GET /volumes/{}", "DELETE /volumes/{}",
}

// badQueries are requests whose query values dockerd refuses.
var badQueries = []string{
	"GET /containers/json?filters={bad", `GET /containers/json?filters={"bogus":{"x":true}}`,
	`GET /containers/json?filters={"status":{"nope":true}}`, `GET /containers/json?filters={"publish":{"a:b":true}}`,
	`GET /containers/json?filters={"before":{"nosuch":true}}`, `GET /containers/json?filters=[1]`,
	"GET /images/json?filters={bad", `GET /images/json?filters={"dangling":{"maybe":true}}`,
	`GET /images/json?filters={"bogus":{"x":true}}`, `GET /images/json?filters={"before":{"nosuch":true}}`,
	"GET /networks?filters={bad", `GET /networks?filters={"bogus":{"x":true}}`, `GET /networks?filters={"type":{"odd":true}}`,
	"GET /volumes?filters={bad", `GET /volumes?filters={"bogus":{"x":true}}`, `GET /volumes?filters={"dangling":{"maybe":true}}`,
	"GET /events?since=abc", "GET /events?until=abc", "GET /events?filters={bad", `GET /events?filters={"bogus":{"x":true}}`,
	`POST /containers/prune?filters={"until":{"abc":true}}`, `POST /containers/prune?filters={"bogus":{"x":true}}`,
	`POST /images/prune?filters={"until":{"abc":true}}`, "POST /images/prune?filters={bad",
	`POST /networks/prune?filters={"until":{"abc":true}}`, "POST /networks/prune?filters={bad",
	`POST /volumes/prune?filters={"bogus":{"x":true}}`, "POST /volumes/prune?filters={bad",
	"GET /containers/c1/logs", "GET /containers/c1/logs?stdout=1&since=abc", "GET /containers/c1/logs?stdout=1&until=abc",
	"POST /containers/c1/kill?signal=SIGFOO", "POST /containers/c1/kill?signal=999", "POST /containers/c1/kill?signal=-1",
	"POST /containers/c1/resize?h=abc&w=1", "POST /containers/c1/resize?h=1&w=-1", "POST /containers/c1/resize?h=99999999999&w=1",
	"POST /containers/c1/wait?condition=bogus", "POST /containers/c1/stop?t=abc", "POST /containers/c1/restart?t=abc",
	"POST /containers/c1/stop?signal=SIGFOO", "POST /containers/c1/rename?name=", "POST /containers/c1/rename?name=bad/name",
	"POST /containers/c1/attach", "POST /containers/c1/attach?stdout=1&detachKeys=ctrl-1",
	"POST /images/create?fromImage=..%2Fx", "POST /images/create?fromImage=UPPER", "POST /images/create?fromImage=busybox&platform=bogus",
	"POST /images/create?fromImage=busybox&tag=bad:tag:", "POST /images/create",
	"POST /images/busybox/tag?repo=UPPER", "POST /images/busybox/tag?repo=..", "POST /images/busybox/tag?repo=x&tag=bad:tag",
	"POST /images/busybox/tag", "GET /images/get?names=..",
	"GET /containers/c1/archive?path=", "HEAD /containers/c1/archive?path=", "PUT /containers/c1/archive?path=",
	"GET /containers/c1/archive", "PUT /containers/c1/archive?path=/nosuch/dir",
	"POST /exec/e1/resize?h=abc&w=1", "GET /containers/c1/stats?stream=1&one-shot=1", "GET /v9.99/version", "GET /vabc/version", "GET /v1.0/version",
	"GET /v1.51/nosuchroute", "PATCH /containers/json", "DELETE /networks/bridge", "DELETE /networks/host",
	"POST /containers/create?name=bad/name", "POST /containers/create?name=..", "POST /containers/create?platform=windows/amd64",
}

// corpus builds the whole set of malformed requests.
func corpus() []badRequest {
	var reqs []badRequest
	for _, r := range jsonBodies() {
		for _, b := range syntaxErrors {
			reqs = append(reqs, badRequest{method: r.method, path: r.path, body: []byte(b)})
		}
		for _, b := range wrongTypeBodies(reflect.TypeOf(r.body), 2, func(s string) string { return s }) {
			reqs = append(reqs, badRequest{method: r.method, path: r.path, body: []byte(b)})
		}
	}
	for _, route := range namedRoutes {
		method, path, _ := strings.Cut(route, " ")
		for _, trick := range pathTricks {
			reqs = append(reqs, badRequest{method: method, path: strings.Replace(path, "{}", trick, 1)})
		}
	}
	for _, q := range badQueries {
		method, path, _ := strings.Cut(q, " ")
		var body []byte
		if strings.HasPrefix(path, "/containers/create") {
			body = []byte(`{"Image":"busybox","Cmd":["sleep","inf"]}`)
		}
		if strings.HasPrefix(path, "/containers/c1/archive") && method == "PUT" {
			body = []byte("not a tar archive")
		}
		reqs = append(reqs, badRequest{method: method, path: path, body: body})
	}
	// Detach keys the docker CLI's parser refuses, on exec create.
	for _, keys := range []string{"ctrl-1", "ab", " ctrl-p", "CTRL-P"} {
		reqs = append(reqs, badRequest{method: "POST", path: "/containers/c1/exec", body: []byte(`{"Cmd":["true"],"DetachKeys":"` + keys + `"}`)})
	}
	// X-Registry-Auth that does not decode: refused before any registry
	// is asked.
	for _, auth := range []string{"!!!", "bm90IGpzb24", "WzFd", "eyJ1c2VybmFtZSI6", "%%%%"} {
		reqs = append(reqs, badRequest{method: "POST", path: "/images/create?fromImage=busybox&tag=latest", auth: auth})
	}
	return reqs
}

// hugeBodies are 64 MiB bodies for the JSON routes: a string that never
// ends, and whitespace that never reaches a value.
func hugeBodies() []badRequest {
	var reqs []badRequest
	for _, r := range jsonBodies() {
		reqs = append(reqs,
			badRequest{method: r.method, path: r.path, body: []byte(`{"Image":"`), huge: 64 << 20},
			badRequest{method: r.method, path: r.path, body: []byte(` `), huge: 64 << 20})
	}
	return reqs
}

// filler repeats its last byte: the rest of a huge body.
type filler struct {
	b    byte
	left int64
}

func (f *filler) Read(p []byte) (int, error) {
	if f.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), f.left)
	for i := range p[:n] {
		p[i] = f.b
	}
	f.left -= n
	return int(n), nil
}

// cleanedPath is where gorilla/mux redirects a raw path: decoded, cleaned
// (a trailing slash kept), with its query.
func cleanedPath(raw string) string {
	p, query, _ := strings.Cut(raw, "?")
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if query != "" {
		clean += "?" + query
	}
	return clean
}

// redirectTarget is a Location's path and query.
func redirectTarget(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return ""
	}
	if u.RawQuery != "" {
		return u.Path + "?" + u.RawQuery
	}
	return u.Path
}

func openFiles(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// settled waits until the goroutine and open file counts are back to at
// most base+slack, and returns the last counts.
func settled(t *testing.T, baseG, baseF int) (int, int) {
	t.Helper()
	const slack = 5
	var g, f int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		runtime.GC()
		g, f = runtime.NumGoroutine(), openFiles(t)
		if g <= baseG+slack && f <= baseF+slack {
			break
		}
	}
	return g, f
}

// TestMalformedRequests sends pierd's routers (over the fake runtime) a
// corpus of over 500 malformed requests: bad JSON, a wrong JSON type for
// every field of every create, update, exec, network, volume and auth
// body, 64 MiB bodies, path tricks on every route with a name, bad query
// values, and truncated hijacks of attach and exec start. Nothing panics;
// every complete request is answered with a 4xx and a JSON
// {"message": ...}; a huge body is refused without being read whole; and
// the goroutine and open file counts come back to their baseline.
func TestMalformedRequests(t *testing.T) {
	images := fakeruntime.NewImages()
	images.Add("busybox:latest", platform.Platform{OS: "linux", Architecture: "amd64"}, v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}})
	d := apitest.NewDaemon(t, images)
	// The image routes go to pierd's real image service (empty, no
	// registry reachable): the fake's answers are not pier's.
	realImages := apitest.NewDaemon(t, nil)
	ctx := context.Background()
	if _, err := d.Client.ContainerCreate(ctx, &container.Config{Image: "busybox", Cmd: []string{"cat"}, OpenStdin: true}, nil, nil, nil, "c1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Client.ContainerStart(ctx, "c1", container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Client.NetworkCreate(ctx, "n1", network.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Client.VolumeCreate(ctx, volume.CreateOptions{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	newExec := func() string {
		r, err := d.Client.ContainerExecCreate(ctx, "c1", container.ExecOptions{Cmd: []string{"cat"}, AttachStdin: true, AttachStdout: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	e1 := newExec()

	transport := &http.Transport{}
	// Redirects are answers too: not followed.
	client := &http.Client{Transport: transport, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	host := strings.TrimPrefix(d.URL, "http://")
	imageHost := strings.TrimPrefix(realImages.URL, "http://")
	send := func(r badRequest) (int, http.Header, []byte, error) {
		var body io.Reader
		if r.body != nil {
			body = bytes.NewReader(r.body)
		}
		if r.huge > 0 {
			body = io.MultiReader(bytes.NewReader(r.body), &filler{b: r.body[len(r.body)-1], left: r.huge - int64(len(r.body))})
		}
		to := host
		if strings.HasPrefix(r.path, "/images") || strings.HasPrefix(r.path, "/distribution") {
			to = imageHost
		}
		req, err := http.NewRequest(r.method, "http://"+to+"/", body)
		if err != nil {
			return 0, nil, nil, err
		}
		req.URL.Opaque = "//" + to + strings.ReplaceAll(r.path, "e1", e1)
		if r.huge > 0 {
			req.ContentLength = r.huge
		}
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if r.auth != "" {
			req.Header.Set("X-Registry-Auth", r.auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, resp.Header, b, err
	}

	// Warm up (the first request starts the server's and transport's
	// goroutines), then take the baseline.
	if code, _, _, err := send(badRequest{method: "GET", path: "/_ping"}); err != nil || code != 200 {
		t.Fatalf("ping: %d %v", code, err)
	}
	transport.CloseIdleConnections()
	baseG, baseF := settled(t, 1<<30, 1<<30)

	reqs := corpus()
	if len(reqs) < 500 {
		t.Fatalf("the corpus has %d requests, want at least 500", len(reqs))
	}
	var serverErrors, wrong []string
	redirects := 0
	check := func(r badRequest, code int, hdr http.Header, body []byte, err error) {
		switch {
		case err != nil:
			wrong = append(wrong, fmt.Sprintf("%s: no answer: %v", r, err))
		case code == http.StatusMovedPermanently && redirectTarget(hdr.Get("Location")) == cleanedPath(r.path):
			// gorilla/mux, under dockerd as here, redirects a path with
			// empty or dot segments (decoded %2F and ..) to its clean form.
			redirects++
		case code >= 500:
			serverErrors = append(serverErrors, fmt.Sprintf("%s: %d %s", r, code, bytes.TrimSpace(body)))
		case code < 400:
			wrong = append(wrong, fmt.Sprintf("%s: %d %s %s", r, code, hdr.Get("Location"), bytes.TrimSpace(body)))
		case r.method == "HEAD":
		default:
			var msg struct {
				Message *string `json:"message"`
			}
			if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || json.Unmarshal(body, &msg) != nil || msg.Message == nil || *msg.Message == "" {
				wrong = append(wrong, fmt.Sprintf("%s: %d without a JSON message: %q (%s)", r, code, body, hdr.Get("Content-Type")))
			}
		}
	}
	for _, r := range reqs {
		code, hdr, body, err := send(r)
		check(r, code, hdr, body, err)
	}

	// Huge bodies: refused (413) without reading all 64 MiB into memory.
	for _, r := range hugeBodies() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		code, hdr, body, err := send(r)
		runtime.ReadMemStats(&after)
		check(r, code, hdr, body, err)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 48<<20 {
			wrong = append(wrong, fmt.Sprintf("%s: allocated %d MiB", r, grew>>20))
		}
	}

	// Truncated hijacks of attach and exec start: cut off in the request
	// line, in the headers, in a body shorter than its Content-Length,
	// right after the upgrade, and after some stdin.
	hijacks := 0
	for i := 0; i < 6; i++ {
		for _, path := range []string{"/containers/c1/attach?stream=1&stdin=1&stdout=1&stderr=1", "/exec/" + newExec() + "/start"} {
			body := `{"Detach":false,"Tty":false}`
			full := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: pier\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", path, len(body), body)
			var cut string
			switch i {
			case 0:
				cut = full[:10]
			case 1:
				cut = full[:strings.Index(full, "Upgrade: tcp")+5]
			case 2:
				cut = strings.Replace(full, fmt.Sprintf("Content-Length: %d", len(body)), "Content-Length: 4096", 1)
			case 3, 4, 5:
				cut = full
			}
			conn, err := net.Dial("tcp", host)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, cut)
			if i >= 3 {
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
					t.Errorf("hijack of %s: %v %v", path, resp, err)
				}
				if i == 4 {
					io.WriteString(conn, "some input\n")
				}
				if i == 5 {
					conn.(*net.TCPConn).CloseWrite()
					time.Sleep(50 * time.Millisecond)
				}
			}
			conn.Close()
			hijacks++
		}
	}

	for _, e := range serverErrors {
		t.Errorf("5xx: %s", e)
	}
	for _, e := range wrong {
		t.Errorf("%s", e)
	}
	t.Logf("%d malformed requests (%d answered by a redirect to the clean path), %d huge bodies, %d truncated hijacks",
		len(reqs), redirects, len(hugeBodies()), hijacks)
	if redirects > len(namedRoutes)*4 {
		t.Errorf("%d redirects: more than the path tricks with %%2F and .. account for", redirects)
	}

	transport.CloseIdleConnections()
	g, f := settled(t, baseG, baseF)
	if g > baseG+5 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines: %d after the corpus, %d before\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if f > baseF+5 {
		t.Errorf("open files: %d after the corpus, %d before", f, baseF)
	}
	// The daemon still serves.
	if code, _, _, err := send(badRequest{method: "GET", path: "/containers/c1/json"}); err != nil || code != 200 {
		t.Errorf("after the corpus: inspect c1: %d %v", code, err)
	}
}
