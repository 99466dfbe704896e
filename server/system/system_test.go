package system

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/system"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/server"
	"github.com/pier-vm/pier/version"
)

type fakeBackend struct{ info engine.SystemInfo }

func (f fakeBackend) SystemInfo() engine.SystemInfo { return f.info }

func serve(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	b := fakeBackend{info: engine.SystemInfo{Root: "/var/lib/pier", Driver: "qemu", Accel: "tcg", Images: 3, Containers: 4, Running: 1, Paused: 1, Stopped: 2}}
	s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRouter(b, Options{InsecureRegistries: []string{"127.0.0.1:5000"}}))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func TestPing(t *testing.T) {
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/_ping", "OK"},
		{http.MethodHead, "/_ping", ""},
		{http.MethodGet, "/v1.41/_ping", "OK"},
		{http.MethodHead, "/v1.50/_ping", ""},
	} {
		rec := serve(t, c.method, c.path)
		if rec.Code != http.StatusOK || rec.Body.String() != c.body {
			t.Errorf("%s %s: %d %q, want 200 %q", c.method, c.path, rec.Code, rec.Body.String(), c.body)
		}
		want := map[string]string{
			"Api-Version":         version.MaxAPIVersion,
			"Ostype":              "linux",
			"Docker-Experimental": "false",
			"Builder-Version":     "1",
			"Swarm":               "inactive",
			"Cache-Control":       "no-cache, no-store, must-revalidate",
			"Pragma":              "no-cache",
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", c.method, c.path, k, got, v)
			}
		}
	}
}

func TestPingSaysBuildKitWhenThereIsABuilder(t *testing.T) {
	s := server.New(slog.New(slog.NewTextHandler(io.Discard, nil)), NewRouter(fakeBackend{}, Options{BuildKit: true}))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/_ping", nil))
	if got := rec.Header().Get("Builder-Version"); got != "2" {
		t.Fatalf("Builder-Version with a builder: %q, want 2", got)
	}
}

func TestVersion(t *testing.T) {
	rec := serve(t, http.MethodGet, "/v1.41/version")
	var v types.Version
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, decode: %v", rec.Code, err)
	}
	if v.APIVersion != version.MaxAPIVersion || v.MinAPIVersion != version.MinAPIVersion || v.Os != "linux" || v.Arch != runtime.GOARCH || v.GoVersion != runtime.Version() {
		t.Errorf("version %+v", v)
	}
	if len(v.Components) != 1 || v.Components[0].Name != "Engine" {
		t.Errorf("components %+v, want one Engine", v.Components)
	}
}

func TestInfo(t *testing.T) {
	rec := serve(t, http.MethodGet, "/info")
	var info system.Info
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || rec.Code != 200 {
		t.Fatalf("status %d, decode: %v", rec.Code, err)
	}
	if info.Images != 3 || info.Containers != 4 || info.ContainersRunning != 1 || info.ContainersPaused != 1 || info.ContainersStopped != 2 {
		t.Errorf("counts %d images, %d/%d/%d/%d containers", info.Images, info.Containers, info.ContainersRunning, info.ContainersPaused, info.ContainersStopped)
	}
	if info.OSType != "linux" || info.DockerRootDir != "/var/lib/pier" || info.Driver != "pier-ext4" || info.NCPU != runtime.NumCPU() || info.MemTotal <= 0 {
		t.Errorf("info %+v", info)
	}
	if info.Swarm.LocalNodeState != "inactive" || info.DefaultRuntime != "pier" || info.Runtimes["pier"].Path == "" {
		t.Errorf("swarm %q, runtime %q %+v", info.Swarm.LocalNodeState, info.DefaultRuntime, info.Runtimes)
	}
	if rc := info.RegistryConfig; rc == nil || len(rc.InsecureRegistryCIDRs) != 2 || rc.InsecureRegistryCIDRs[0].String() != "127.0.0.0/8" {
		t.Errorf("loopback CIDRs missing from RegistryConfig: %+v", rc)
	}
	if info.RegistryConfig == nil || info.RegistryConfig.IndexConfigs["127.0.0.1:5000"] == nil || info.RegistryConfig.IndexConfigs["127.0.0.1:5000"].Secure {
		t.Errorf("insecure registry missing from RegistryConfig: %+v", info.RegistryConfig)
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" && info.Architecture != "x86_64" {
		t.Errorf("Architecture %q, want x86_64", info.Architecture)
	}
}
