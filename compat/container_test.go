package compat

import (
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/go-connections/nat"

	enginecontainer "github.com/pier-vm/pier/engine/container"
)

func TestStatusLine(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		s    enginecontainer.State
		want string
	}{
		{enginecontainer.State{Status: "created"}, "Created"},
		{enginecontainer.State{Status: "running", Running: true, StartedAt: now.Add(-3 * time.Second)}, "Up 3 seconds"},
		{enginecontainer.State{Status: "exited", ExitCode: 2, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-2 * time.Minute)}, "Exited (2) 2 minutes ago"},
		{enginecontainer.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second), Health: &enginecontainer.Health{Status: "starting"}}, "Up 5 seconds (health: starting)"},
		{enginecontainer.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second), Health: &enginecontainer.Health{Status: "healthy"}}, "Up 5 seconds (healthy)"},
		{enginecontainer.State{Status: "running", Running: true, StartedAt: now.Add(-5 * time.Second), Health: &enginecontainer.Health{Status: "unhealthy"}}, "Up 5 seconds (unhealthy)"},
		{enginecontainer.State{Status: "exited", ExitCode: 0, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-time.Minute), Health: &enginecontainer.Health{Status: "unhealthy"}}, "Exited (0) About a minute ago"},
		{enginecontainer.State{Status: "restarting", Running: true, Restarting: true, ExitCode: 3, StartedAt: now.Add(-time.Hour), FinishedAt: now.Add(-2 * time.Second)}, "Restarting (3) 2 seconds ago"},
	}
	for _, c := range cases {
		if got := StatusLine(c.s, false, now); got != c.want {
			t.Errorf("StatusLine(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
	if got := StatusLine(cases[1].s, true, now); got != "Removal In Progress" {
		t.Errorf("removing: %q", got)
	}
}

func TestContainerConfigFromAPIPorts(t *testing.T) {
	cfg, hc, err := ContainerConfigFromAPI(
		&container.Config{Image: "x", ExposedPorts: nat.PortSet{"80": {}, "53/udp": {}}},
		&container.HostConfig{PortBindings: nat.PortMap{"80/tcp": {{HostIP: "127.0.0.1", HostPort: "18080"}}}, Resources: container.Resources{Memory: 1 << 28}},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.ExposedPorts) != 2 || cfg.ExposedPorts[0] != "53/udp" || cfg.ExposedPorts[1] != "80/tcp" {
		t.Fatalf("exposed %v", cfg.ExposedPorts)
	}
	if b := hc.PortBindings["80/tcp"]; len(b) != 1 || b[0].HostPort != "18080" || hc.Memory != 1<<28 {
		t.Fatalf("bindings %+v", hc)
	}
	if _, _, err := ContainerConfigFromAPI(&container.Config{ExposedPorts: nat.PortSet{"http/tcp": {}}}, nil); err == nil {
		t.Fatal("bad port accepted")
	}
	back := hostConfigToAPI(hc)
	if back.PortBindings["80/tcp"][0].HostIP != "127.0.0.1" || back.LogConfig.Type != "json-file" || back.NetworkMode != "bridge" {
		t.Fatalf("round trip %+v", back)
	}
}

func TestContainerListFilter(t *testing.T) {
	args := filters.NewArgs(filters.Arg("label", "a=b"), filters.Arg("status", "exited"), filters.Arg("exited", "1"))
	f, any, err := ContainerListFilter(args)
	if err != nil || !any || f.Labels[0] != "a=b" || f.Statuses[0] != "exited" || f.Exited[0] != 1 {
		t.Fatalf("%+v %v %v", f, any, err)
	}
	if _, _, err := ContainerListFilter(filters.NewArgs(filters.Arg("status", "sleeping"))); err == nil {
		t.Fatal("bad status accepted")
	}
	if _, _, err := ContainerListFilter(filters.NewArgs(filters.Arg("colour", "red"))); err == nil {
		t.Fatal("unknown filter accepted")
	}
	if _, any, _ := ContainerListFilter(filters.NewArgs(filters.Arg("is-task", "true"))); any {
		t.Fatal("is-task=true must match nothing")
	}
}

func TestParseTimestamp(t *testing.T) {
	ts, err := ParseTimestamp("1700000000.5")
	if err != nil || ts.Unix() != 1700000000 || ts.Nanosecond() != 500000000 {
		t.Fatalf("%v %v", ts, err)
	}
	if ts, err := ParseTimestamp(""); err != nil || !ts.IsZero() {
		t.Fatalf("empty: %v %v", ts, err)
	}
	if _, err := ParseTimestamp("yesterday"); err == nil {
		t.Fatal("bad timestamp accepted")
	}
}
