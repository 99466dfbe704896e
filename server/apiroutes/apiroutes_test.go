package apiroutes_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/internal/apitest"
	"github.com/pier-vm/pier/internal/testregistry"
)

// outside are the route families the walk leaves out: swarm and plugins.
var outside = []string{"/swarm", "/nodes", "/services", "/tasks", "/secrets", "/configs", "/plugins"}

// knownUnserved are the routes pier answers with an error of its own
// instead of serving them (package unsupported), and the status of that
// error. When a router starts serving one, remove it here and there.
var knownUnserved = map[string]int{
	"GET /containers/{id}/attach/ws": http.StatusNotImplemented,
	"POST /build":                    http.StatusNotImplemented,
	"POST /session":                  http.StatusNotImplemented,
	"PUT /volumes/{name}":            http.StatusServiceUnavailable, // as dockerd without swarm
}

// specRoutes reads "METHOD /path" for every operation of the Docker
// Engine API's swagger.yaml (in the docker/docker module pier builds with).
func specRoutes(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/docker/docker").Output()
	if err != nil {
		t.Fatalf("locating the docker/docker module: %v", err)
	}
	f, err := os.Open(filepath.Join(strings.TrimSpace(string(out)), "api", "swagger.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pathLine := regexp.MustCompile(`^  (/\S*):\s*$`)
	methodLine := regexp.MustCompile(`^    (get|post|put|delete|head|patch):\s*$`)
	var routes []string
	inPaths, path := false, ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line != "" && line[0] != ' ' && line[0] != '#' {
			inPaths = line == "paths:"
			continue
		}
		if !inPaths {
			continue
		}
		if m := pathLine.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := methodLine.FindStringSubmatch(line); m != nil && path != "" {
			routes = append(routes, strings.ToUpper(m[1])+" "+path)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(routes) < 100 {
		t.Fatalf("only %d routes read from swagger.yaml: the parser is off", len(routes))
	}
	return routes
}

func isOutside(path string) bool {
	for _, p := range outside {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// TestEveryRouteIsRouted walks the API spec: every route outside swarm and
// plugins reaches a handler of pierd's routers (nothing answers 404 "page
// not found"); the known unserved ones answer their clear error, and no
// other route answers 501.
func TestEveryRouteIsRouted(t *testing.T) {
	d := apitest.NewDaemon(t, nil) // pierd's routers, the real image service
	// Targets that keep handlers from reaching out or streaming forever:
	// registries asked are down, events end at once.
	down := testregistry.DownAddr(t)
	targets := map[string]string{
		"GET /images/search":            "/images/search?term=" + down + "/x",
		"GET /distribution/{name}/json": "/distribution/" + down + "/x/json",
		"GET /events":                   "/events?since=0&until=1",
	}

	walked := 0
	seenUnserved := map[string]bool{}
	for _, rt := range specRoutes(t) {
		method, path, _ := strings.Cut(rt, " ")
		if isOutside(path) {
			continue
		}
		walked++
		target := strings.NewReplacer("{id}", "nosuch", "{name}", "nosuch", "{execid}", "nosuch").Replace(path)
		if t, ok := targets[rt]; ok {
			target = t
		}
		status, body := send(t, method, d.URL+"/v1.51"+target)
		if _, known := knownUnserved[rt]; known {
			seenUnserved[rt] = true
		}
		if status == http.StatusNotFound && strings.Contains(body, "page not found") {
			t.Errorf("%s is not routed: %d %s", rt, status, body)
			continue
		}
		if want, known := knownUnserved[rt]; known {
			var msg struct{ Message string }
			if status != want || json.Unmarshal([]byte(body), &msg) != nil || len(msg.Message) < 20 {
				t.Errorf("%s is known as unserved: got %d %s, want %d with a clear message (if a router serves it now, remove it from knownUnserved and from package unsupported)", rt, status, body, want)
			}
			continue
		}
		if status == http.StatusNotImplemented {
			t.Errorf("%s answers 501 but is not among the known unserved routes: %s", rt, body)
		}
	}
	for rt := range knownUnserved {
		if !seenUnserved[rt] {
			t.Errorf("known unserved route %s is not in the spec", rt)
		}
	}
	if walked < 60 {
		t.Fatalf("walked only %d routes", walked)
	}
}

// send sends an empty request and returns the status and the start of the
// body (streams are not read to their end).
func send(t *testing.T, method, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(b)
}
