package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// --link on the default bridge as dockerd: stored as "/child:/parent/alias",
// the linked container's address in /etc/hosts under alias, hostname and
// name, its ports and environment as variables the container's own
// override; links to missing containers, with host networking or to a
// stopped container are refused.
func TestLegacyLinks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := f.createCfg(t, "db", container.Config{Cmd: []string{"sleep", "inf"}, ExposedPorts: []string{"5432/tcp"}, Env: []string{"PG_USER=pg", "PATH=/x", "HOME=/h"}}, container.HostConfig{})
	if err := f.c.ContainerStart(ctx, db); err != nil {
		t.Fatal(err)
	}
	web := f.createCfg(t, "web", container.Config{Cmd: []string{"sleep", "inf"}, Env: []string{"DBALIAS_NAME=mine"}}, container.HostConfig{Links: []string{"db:dbalias"}})
	info, err := f.c.ContainerInspect(web)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.HostConfig.Links, []string{"/db:/web/dbalias"}) {
		t.Fatalf("HostConfig.Links %v", info.HostConfig.Links)
	}
	if err := f.c.ContainerStart(ctx, web); err != nil {
		t.Fatal(err)
	}
	dbInfo, _ := f.c.ContainerInspect(db)
	ip := dbInfo.Networks["bridge"].IPAddress
	starts := f.rt.Starts()
	req := starts[len(starts)-1]
	if !slices.Contains(req.Network.Hosts, ip+"\tdbalias "+dbInfo.Config.Hostname+" db") {
		t.Errorf("hosts %q lack the link to %s", req.Network.Hosts, ip)
	}
	env := req.Process.Env
	for _, want := range []string{"DBALIAS_PORT=tcp://" + ip + ":5432", "DBALIAS_PORT_5432_TCP_ADDR=" + ip, "DBALIAS_PORT_5432_TCP_PROTO=tcp", "DBALIAS_ENV_PG_USER=pg", "DBALIAS_NAME=mine"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %q lacks %s", env, want)
		}
	}
	if slices.ContainsFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "DBALIAS_ENV_PATH=") || strings.HasPrefix(kv, "DBALIAS_ENV_HOME=")
	}) {
		t.Errorf("env %q passes PATH or HOME on", env)
	}

	// The variables are kept with the run, for a daemon that adopts it.
	f.reopen(t)
	if info, err := f.c.ContainerInspect(web); err != nil || !slices.Contains(info.LinkEnv, "DBALIAS_PORT=tcp://"+ip+":5432") {
		t.Fatalf("persisted link variables %q, %v", info.LinkEnv, err)
	}

	for name, hc := range map[string]container.HostConfig{
		"missing": {Links: []string{"nosuch:x"}},
		"host":    {Links: []string{"db"}, NetworkMode: "host"},
		"format":  {Links: []string{"a:b:c"}},
	} {
		_, err := f.c.ContainerCreate(ctx, engine.CreateRequest{Config: container.Config{Image: "busybox", Cmd: []string{"true"}}, HostConfig: hc})
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	stopped := f.createCfg(t, "stopped", container.Config{Cmd: []string{"true"}}, container.HostConfig{})
	late := f.createCfg(t, "late", container.Config{Cmd: []string{"true"}}, container.HostConfig{Links: []string{stopped[:12]}})
	if err := f.c.ContainerStart(ctx, late); err == nil || !strings.Contains(err.Error(), "Cannot link to a non running container: /stopped AS /late/"+stopped[:12]) {
		t.Fatalf("start linked to a stopped container: %v", err)
	}
}

// A rename is followed in the stored links, as dockerd's link graph
// follows it: the linked container's new name, the linking one's new name
// as parent; the link still works at the next start.
func TestLinksFollowRenames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	db := f.createCfg(t, "db", container.Config{Cmd: []string{"sleep", "inf"}}, container.HostConfig{})
	web := f.createCfg(t, "web", container.Config{Cmd: []string{"sleep", "inf"}}, container.HostConfig{Links: []string{"db:dbalias"}})
	if err := f.c.ContainerRename("db", "database"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerRename(web, "site"); err != nil {
		t.Fatal(err)
	}
	info, err := f.c.ContainerInspect(web)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.HostConfig.Links, []string{"/database:/site/dbalias"}) {
		t.Fatalf("links after the renames: %v", info.HostConfig.Links)
	}
	if err := f.c.ContainerStart(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(ctx, web); err != nil {
		t.Fatalf("start through the renamed link: %v", err)
	}
	starts := f.rt.Starts()
	if env := starts[len(starts)-1].Process.Env; !slices.Contains(env, "DBALIAS_NAME=/site/dbalias") {
		t.Fatalf("env %q", env)
	}
}
