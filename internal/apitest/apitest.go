// Package apitest serves pier's API routers over a container engine with
// the fake runtime (and a busybox image), or every router pierd serves
// over a whole engine (NewDaemon), for the server packages' tests: a real
// Docker client, or raw requests, talk to them over HTTP.
package apitest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docker/docker/client"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/server"
	"github.com/pier-vm/pier/server/apiroutes"
	"github.com/pier-vm/pier/server/httputils"
	"github.com/pier-vm/pier/server/system"
)

// API is a test server and a client of it.
type API struct {
	Engine  *engine.Containers
	Runtime *fakeruntime.Runtime
	Images  *fakeruntime.Images
	Bus     *events.Bus
	// Client speaks API 1.51.
	Client *client.Client
	URL    string
}

// New serves the routers made from the engine and its event bus.
func New(t *testing.T, routers func(*engine.Containers, *events.Bus) []httputils.Router) *API {
	t.Helper()
	images := fakeruntime.NewImages()
	images.Add("busybox:latest", platform.Platform{OS: "linux", Architecture: "amd64"}, v1.Config{
		Env: []string{"PATH=/bin"}, Cmd: []string{"sh"},
	})
	bus := events.NewBus()
	rt := fakeruntime.New()
	c, err := engine.NewContainers(engine.ContainersConfig{Root: t.TempDir(), Runtime: rt, Images: images, Events: bus})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(server.New(nil, routers(c, bus)...).Handler())
	t.Cleanup(ts.Close)
	cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(ts.URL, "http://")), client.WithVersion("1.51"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &API{Engine: c, Runtime: rt, Images: images, Bus: bus, Client: cli, URL: ts.URL}
}

// Do sends a raw request (JSON body when not empty) and returns the status
// and the body.
func (a *API) Do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, a.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Daemon is every router pierd serves over a whole engine, and a client
// of it.
type Daemon struct {
	Engine  *engine.Engine
	Runtime *fakeruntime.Runtime
	// Client speaks API 1.51.
	Client *client.Client
	URL    string
}

// NewDaemon serves pierd's routers (package apiroutes) over an engine with
// the fake runtime and the given image service (engine/image's real one
// over a temporary directory when nil), for tests that need the routes as
// pierd mounts them.
func NewDaemon(t *testing.T, images image.API) *Daemon {
	t.Helper()
	if images == nil {
		s, err := image.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		images = s
	}
	rt := fakeruntime.New()
	eng, err := engine.New(engine.Config{Root: t.TempDir(), Images: images, Runtime: rt})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Shutdown(context.Background()) })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ts := httptest.NewServer(server.New(quiet, apiroutes.Routers(eng, nil, system.Options{})...).Handler())
	t.Cleanup(ts.Close)
	cli, err := client.NewClientWithOpts(client.WithHost("tcp://"+strings.TrimPrefix(ts.URL, "http://")), client.WithVersion("1.51"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return &Daemon{Engine: eng, Runtime: rt, Client: cli, URL: ts.URL}
}

// Do sends a raw request (JSON body when not empty) and returns the status
// and the body.
func (d *Daemon) Do(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	return (&API{URL: d.URL}).Do(t, method, path, body)
}
