package commitconfig

import (
	"reflect"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/container"
)

func TestMergeFillsWhatTheRequestLeftOut(t *testing.T) {
	ctr := container.Config{
		User: "app", WorkingDir: "/srv", StopSignal: "SIGINT",
		Env:          []string{"PATH=/bin", "A=ctr"},
		Cmd:          []string{"serve"},
		Entrypoint:   []string{"/entry"},
		ExposedPorts: []string{"80/tcp"},
		Volumes:      []string{"/data"},
		Labels:       map[string]string{"a": "ctr", "b": "ctr"},
		Healthcheck:  &container.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 3},
	}
	// A body config with a few fields: the rest comes from the container.
	user := container.Config{
		Env:          []string{"A=user"},
		ExposedPorts: []string{"443/tcp"},
		Labels:       map[string]string{"a": "user"},
		Healthcheck:  &container.Healthcheck{Retries: 9},
	}
	got := Merge(user, ctr)
	want := container.Config{
		User: "app", WorkingDir: "/srv", StopSignal: "SIGINT",
		Env:          []string{"A=user", "PATH=/bin"},
		Cmd:          []string{"serve"},
		Entrypoint:   []string{"/entry"},
		ExposedPorts: []string{"443/tcp", "80/tcp"},
		Volumes:      []string{"/data"},
		Labels:       map[string]string{"a": "user", "b": "ctr"},
		Healthcheck:  &container.Healthcheck{Test: []string{"CMD", "true"}, Interval: time.Second, Retries: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// An Entrypoint of the request keeps its (empty) Cmd.
	got = Merge(container.Config{Entrypoint: []string{"/other"}}, ctr)
	if got.Cmd != nil || !reflect.DeepEqual(got.Entrypoint, []string{"/other"}) {
		t.Fatalf("Cmd %q Entrypoint %q", got.Cmd, got.Entrypoint)
	}
}

func TestImageConfigKeepsTheRunConfiguration(t *testing.T) {
	c := busyboxContainer()
	c.ExposedPorts = []string{"80/tcp"}
	c.Volumes = []string{"/data"}
	c.Healthcheck = &container.Healthcheck{Test: []string{"NONE"}}
	got := ImageConfig(c)
	if got.Hostname != "c0ffee" || !reflect.DeepEqual(got.Cmd, c.Cmd) || !reflect.DeepEqual(got.Env, c.Env) || got.Labels["from"] != "container" {
		t.Fatalf("image config %+v", got)
	}
	if _, ok := got.ExposedPorts["80/tcp"]; !ok || len(got.Volumes) != 1 || got.Healthcheck == nil || got.Healthcheck.Test[0] != "NONE" {
		t.Fatalf("ports %v volumes %v health %+v", got.ExposedPorts, got.Volumes, got.Healthcheck)
	}
}
