package engine_test

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

var amd64 = platform.Platform{OS: "linux", Architecture: "amd64"}

type fixture struct {
	root    string
	rt      *fakeruntime.Runtime
	images  *fakeruntime.Images
	bus     *events.Bus
	c       *engine.Containers
	busybox string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{root: t.TempDir(), rt: fakeruntime.New(), images: fakeruntime.NewImages(), bus: events.NewBus()}
	img := f.images.Add("busybox:latest", amd64, v1.Config{
		Env:        []string{"PATH=/usr/bin:/bin", "HOME=/root"},
		Cmd:        []string{"sh"},
		WorkingDir: "/",
		Labels:     map[string]string{"from": "image", "keep": "image"},
	})
	f.busybox = img.ID
	f.reopen(t)
	return f
}

// reopen builds a new service over the same root, as a daemon restart does.
func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	c, err := engine.NewContainers(engine.ContainersConfig{Root: f.root, Runtime: f.rt, Images: f.images, Events: f.bus})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
}

func (f *fixture) create(t *testing.T, name string, cmd ...string) string {
	t.Helper()
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Name:   name,
		Config: container.Config{Image: "busybox", Cmd: cmd},
	})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return res.ID
}

func (f *fixture) wait(t *testing.T, id, cond string) engine.WaitResult {
	t.Helper()
	ch, err := f.c.ContainerWait(context.Background(), id, cond)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-ch:
		return res
	case <-time.After(5 * time.Second):
		t.Fatalf("wait %s %s: timed out", id, cond)
	}
	return engine.WaitResult{}
}

func (f *fixture) logs(t *testing.T, id string, opts engine.LogsOptions) string {
	t.Helper()
	var buf bytes.Buffer
	err := f.c.ContainerLogs(context.Background(), id, opts, func(e engine.LogEntry) error {
		buf.WriteString(e.Stream + ":" + string(e.Line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestLifecycleAndEvents(t *testing.T) {
	f := newFixture(t)
	history, live, cancel := f.bus.Subscribe()
	defer cancel()
	if len(history) != 0 {
		t.Fatalf("history = %v", history)
	}
	id := f.create(t, "web", "echo", "hello", ";", "stderr", "oops", ";", "exit", "3")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Fatalf("id %q is not 64 hex", id)
	}
	info, err := f.c.ContainerInspect("web")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "/web" || info.State.Status != "created" || info.Config.Hostname != id[:12] || info.ImageID != f.busybox {
		t.Fatalf("inspect after create: %+v", info.Container)
	}
	if !strings.HasPrefix(info.ImageRef, "busybox@sha256:") {
		t.Fatalf("ImageRef = %q, want digest-pinned", info.ImageRef)
	}
	next, err := f.c.ContainerWait(context.Background(), id, engine.WaitNextExit)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(context.Background(), id[:10]); err != nil {
		t.Fatal(err)
	}
	if res := <-next; res.StatusCode != 3 {
		t.Fatalf("wait = %+v, want 3", res)
	}
	info, _ = f.c.ContainerInspect(id)
	if info.State.Status != "exited" || info.State.ExitCode != 3 || info.State.Running || info.State.FinishedAt.IsZero() {
		t.Fatalf("state after exit: %+v", info.State)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Stderr: true, Tail: -1}); got != "stdout:hello\nstderr:oops\n" {
		t.Fatalf("logs = %q", got)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stderr: true, Tail: -1}); got != "stderr:oops\n" {
		t.Fatalf("stderr logs = %q", got)
	}
	// The run got the merged process.
	req := f.rt.Starts()[0]
	if req.Process.Args[0] != "echo" || req.Hostname != id[:12] || req.MemoryMiB != engine.DefaultMemoryMiB || req.CPUs != 1 {
		t.Fatalf("run request: %+v", req)
	}
	if err := f.c.ContainerRemove(context.Background(), "web", engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	var actions []string
	for len(actions) < 4 {
		select {
		case e := <-live:
			if e.Actor.ID != id || e.Actor.Attributes["name"] != "web" || e.Actor.Attributes["image"] != "busybox" {
				t.Fatalf("event actor: %+v", e.Actor)
			}
			if e.Action == "die" && e.Actor.Attributes["exitCode"] != "3" {
				t.Fatalf("die event: %+v", e)
			}
			actions = append(actions, e.Action)
		case <-time.After(2 * time.Second):
			t.Fatalf("events so far: %v", actions)
		}
	}
	if strings.Join(actions, ",") != "create,start,die,destroy" {
		t.Fatalf("events = %v", actions)
	}
	if _, err := f.c.ContainerInspect(id); !errdefs.IsNotFound(err) || err.Error() != "No such container: "+id {
		t.Fatalf("inspect after remove: %v", err)
	}
}

func TestCreateNamesAndErrors(t *testing.T) {
	f := newFixture(t)
	id := f.create(t, "/db", "sleep", "1")
	_, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{Name: "db", Config: container.Config{Image: "busybox"}})
	want := `Conflict. The container name "/db" is already in use by container "` + id + `". You have to remove (or rename) that container to be able to reuse that name.`
	if !errdefs.IsConflict(err) || err.Error() != want {
		t.Fatalf("duplicate name: %v", err)
	}
	_, err = f.c.ContainerCreate(context.Background(), engine.CreateRequest{Name: "bad name", Config: container.Config{Image: "busybox"}})
	if !errdefs.IsInvalidParameter(err) || err.Error() != "Invalid container name (bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" {
		t.Fatalf("bad name: %v", err)
	}
	_, err = f.c.ContainerCreate(context.Background(), engine.CreateRequest{Config: container.Config{Image: "nginx"}})
	if !errdefs.IsNotFound(err) || err.Error() != "No such image: nginx" {
		t.Fatalf("missing image: %v", err)
	}
	arm := platform.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	_, err = f.c.ContainerCreate(context.Background(), engine.CreateRequest{Platform: &arm, Config: container.Config{Image: "busybox"}})
	if !errdefs.IsNotFound(err) {
		t.Fatalf("other platform: %v", err)
	}
	gen := f.create(t, "")
	info, _ := f.c.ContainerInspect(gen)
	if !regexp.MustCompile(`^/[a-z]+_[a-z]+[0-9]*$`).MatchString(info.Name) {
		t.Fatalf("generated name %q", info.Name)
	}
	if err := f.c.ContainerRename(gen, "db"); !errdefs.IsConflict(err) {
		t.Fatalf("rename onto a used name: %v", err)
	}
	if err := f.c.ContainerRename(gen, "cache"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ContainerInspect("cache"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ContainerInspect(info.Name); !errdefs.IsNotFound(err) {
		t.Fatalf("old name still resolves: %v", err)
	}
}

func TestCreateMergesImageConfig(t *testing.T) {
	f := newFixture(t)
	res, err := f.c.ContainerCreate(context.Background(), engine.CreateRequest{
		Config: container.Config{
			Image:      "busybox",
			Entrypoint: []string{"/bin/sh", "-c"},
			Env:        []string{"HOME=/home/me", "FOO=bar"},
			Labels:     map[string]string{"keep": "user"},
		},
		HostConfig: container.HostConfig{Memory: 1 << 30, NanoCPUs: 1e9},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.c.ContainerInspect(res.ID)
	cfg := info.Config
	if len(cfg.Cmd) != 0 || info.Path != "/bin/sh" || len(info.Args) != 1 || info.Args[0] != "-c" {
		t.Fatalf("an entrypoint must reset the image cmd: cmd=%v path=%q args=%v", cfg.Cmd, info.Path, info.Args)
	}
	if strings.Join(cfg.Env, ",") != "PATH=/usr/bin:/bin,HOME=/home/me,FOO=bar" {
		t.Fatalf("env = %v", cfg.Env)
	}
	if cfg.Labels["from"] != "image" || cfg.Labels["keep"] != "user" || cfg.WorkingDir != "/" {
		t.Fatalf("labels/workdir = %v %q", cfg.Labels, cfg.WorkingDir)
	}
	if info.MemoryMiB != 1024 || info.CPUs != 1 {
		t.Fatalf("vm size = %d MiB, %d CPUs", info.MemoryMiB, info.CPUs)
	}
	// No cmd given: the image's.
	id := f.create(t, "plain")
	info, _ = f.c.ContainerInspect(id)
	if info.Path != "sh" || len(info.Config.Cmd) != 1 {
		t.Fatalf("image cmd not inherited: %+v", info.Config.Cmd)
	}
}

func TestStopEscalatesAndStates(t *testing.T) {
	f := newFixture(t)
	id := f.create(t, "stubborn", "trap", ";", "sleep", "inf")
	ctx := context.Background()
	if err := f.c.ContainerStop(ctx, id, engine.StopOptions{}); !errdefs.IsNotModified(err) {
		t.Fatalf("stop of a created container: %v", err)
	}
	if err := f.c.ContainerKill(ctx, id, ""); !errdefs.IsConflict(err) || err.Error() != "Container "+id+" is not running" {
		t.Fatalf("kill of a created container: %v", err)
	}
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStart(ctx, id); !errdefs.IsNotModified(err) {
		t.Fatalf("second start: %v", err)
	}
	if err := f.c.ContainerRemove(ctx, id, engine.RemoveOptions{}); !errdefs.IsConflict(err) ||
		err.Error() != `cannot remove container "/stubborn": container is running: stop the container before removing or force remove` {
		t.Fatalf("remove running: %v", err)
	}
	one := 1
	start := time.Now()
	if err := f.c.ContainerStop(ctx, id, engine.StopOptions{Timeout: &one}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Fatalf("stop took %v, want about 1s (SIGTERM ignored, then SIGKILL)", d)
	}
	info, _ := f.c.ContainerInspect(id)
	if info.State.ExitCode != 137 || info.State.Status != "exited" {
		t.Fatalf("state after stop: %+v", info.State)
	}
	// A plain sleeper dies of SIGTERM at once.
	id2 := f.create(t, "sleeper", "sleep", "inf")
	if err := f.c.ContainerStart(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerKill(ctx, id2, "SIGINT"); err != nil {
		t.Fatal(err)
	}
	if res := f.wait(t, id2, engine.WaitNotRunning); res.StatusCode != 130 {
		t.Fatalf("exit after SIGINT = %d", res.StatusCode)
	}
	if err := f.c.ContainerKill(ctx, id2, "NOPE"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad signal: %v", err)
	}
	// Restart runs it again.
	if err := f.c.ContainerRestart(ctx, id2, engine.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	info, _ = f.c.ContainerInspect(id2)
	if !info.State.Running {
		t.Fatalf("not running after restart: %+v", info.State)
	}
	if err := f.c.ContainerRemove(ctx, id2, engine.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

func TestWaitConditions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "waiter", "sleep", "0.2", ";", "exit", "7")
	if res := f.wait(t, id, ""); res.StatusCode != 0 {
		t.Fatalf("not-running on a created container: %+v", res)
	}
	next, err := f.c.ContainerWait(ctx, id, engine.WaitNextExit)
	if err != nil {
		t.Fatal(err)
	}
	removed, err := f.c.ContainerWait(ctx, id, engine.WaitRemoved)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ContainerWait(ctx, id, "bogus"); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("bad condition: %v", err)
	}
	if _, err := f.c.ContainerWait(ctx, "nope", ""); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown container: %v", err)
	}
	select {
	case res := <-next:
		t.Fatalf("next-exit returned before start: %+v", res)
	case <-time.After(50 * time.Millisecond):
	}
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if res := <-next; res.StatusCode != 7 {
		t.Fatalf("next-exit = %+v", res)
	}
	select {
	case res := <-removed:
		t.Fatalf("removed returned before removal: %+v", res)
	case <-time.After(50 * time.Millisecond):
	}
	if err := f.c.ContainerRemove(ctx, id, engine.RemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := <-removed; res.StatusCode != 7 {
		t.Fatalf("removed = %+v", res)
	}
}

func TestAutoRemove(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	res, err := f.c.ContainerCreate(ctx, engine.CreateRequest{
		Config:     container.Config{Image: "busybox", Cmd: []string{"echo", "bye"}},
		HostConfig: container.HostConfig{AutoRemove: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	removed, err := f.c.ContainerWait(ctx, res.ID, engine.WaitRemoved)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	attached := make(chan error, 1)
	go func() {
		attached <- f.c.ContainerAttach(ctx, res.ID, engine.AttachOptions{Stream: true, Stdout: &out, Stderr: &out})
	}()
	time.Sleep(20 * time.Millisecond) // let the attach subscribe, as docker run does before start
	if err := f.c.ContainerStart(ctx, res.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-removed:
		if r.StatusCode != 0 {
			t.Fatalf("removed: %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("auto-remove did not happen")
	}
	if err := <-attached; err != nil {
		t.Fatal(err)
	}
	if out.String() != "bye\n" {
		t.Fatalf("attached output %q", out.String())
	}
	if _, err := f.c.ContainerInspect(res.ID); !errdefs.IsNotFound(err) {
		t.Fatalf("still there: %v", err)
	}
}

func TestLogsTailSinceFollow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "talker", "echo", "one", ";", "echo", "two", ";", "sleep", "0.3", ";", "echo", "three", ";", "sleep", "inf")
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Tail: 1}); got != "stdout:two\n" {
		t.Fatalf("tail 1 = %q", got)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Tail: 0}); got != "" {
		t.Fatalf("tail 0 = %q", got)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Tail: -1, Since: time.Now()}); got != "" {
		t.Fatalf("since now = %q", got)
	}
	if err := f.c.ContainerLogs(ctx, id, engine.LogsOptions{}, nil); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("no stream chosen: %v", err)
	}

	var mu sync.Mutex
	var lines []string
	followed := make(chan error, 1)
	go func() {
		followed <- f.c.ContainerLogs(ctx, id, engine.LogsOptions{Stdout: true, Tail: -1, Follow: true}, func(e engine.LogEntry) error {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, string(e.Line))
			return nil
		})
	}()
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("follow saw %v", lines)
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-followed:
		t.Fatalf("follow ended while running: %v", err)
	default:
	}
	if err := f.c.ContainerKill(ctx, id, "KILL"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-followed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("follow did not end with the container")
	}
	if strings.Join(lines, "") != "one\ntwo\nthree\n" {
		t.Fatalf("followed %q", lines)
	}
}

func TestPruneAndList(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	running := f.create(t, "running", "sleep", "inf")
	exited := f.create(t, "exited", "exit", "2")
	created := f.create(t, "created")
	for _, id := range []string{running, exited} {
		if err := f.c.ContainerStart(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	f.wait(t, exited, engine.WaitNotRunning)

	list, _ := f.c.ContainerList(engine.ListOptions{})
	if len(list) != 1 || list[0].ID != running {
		t.Fatalf("ps = %v", ids(list))
	}
	list, _ = f.c.ContainerList(engine.ListOptions{All: true})
	if len(list) != 3 || list[0].ID != created {
		t.Fatalf("ps -a = %v (newest first)", ids(list))
	}
	list, _ = f.c.ContainerList(engine.ListOptions{Filter: engine.ListFilter{Exited: []int{2}}})
	if len(list) != 1 || list[0].ID != exited {
		t.Fatalf("exited=2: %v", ids(list))
	}
	list, _ = f.c.ContainerList(engine.ListOptions{Filter: engine.ListFilter{Names: []string{"^/?run"}, Statuses: []string{"running"}}})
	if len(list) != 1 || list[0].ID != running {
		t.Fatalf("name+status: %v", ids(list))
	}
	list, _ = f.c.ContainerList(engine.ListOptions{All: true, Filter: engine.ListFilter{Ancestors: []string{"busybox"}, Labels: []string{"from=image"}}})
	if len(list) != 3 {
		t.Fatalf("ancestor+label: %v", ids(list))
	}

	res, err := f.c.ContainerPrune(ctx, engine.PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 2 {
		t.Fatalf("pruned %v", res.Deleted)
	}
	list, _ = f.c.ContainerList(engine.ListOptions{All: true})
	if len(list) != 1 || list[0].ID != running {
		t.Fatalf("after prune: %v", ids(list))
	}
}

func ids(list []engine.Summary) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

func TestRestartFromDisk(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "survivor", "echo", "before", ";", "sleep", "inf")
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	f.reopen(t) // the daemon restarts; the old VM is gone

	info, err := f.c.ContainerInspect("survivor")
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Running || info.State.Status != "exited" || info.State.ExitCode != 255 {
		t.Fatalf("state after daemon restart: %+v", info.State)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Tail: -1}); got != "stdout:before\n" {
		t.Fatalf("logs after daemon restart = %q", got)
	}
	if _, err := f.c.ContainerCreate(ctx, engine.CreateRequest{Name: "survivor", Config: container.Config{Image: "busybox"}}); !errdefs.IsConflict(err) {
		t.Fatalf("name not reserved after reload: %v", err)
	}
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := f.c.ContainerStop(ctx, id, engine.StopOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := f.logs(t, id, engine.LogsOptions{Stdout: true, Tail: -1}); got != "stdout:before\nstdout:before\n" {
		t.Fatalf("logs after second run = %q", got)
	}
}

func TestExec(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id := f.create(t, "box", "sleep", "inf")
	if _, err := f.c.ExecCreate(id, engine.ExecConfig{Cmd: []string{"echo"}}); !errdefs.IsConflict(err) {
		t.Fatalf("exec in a stopped container: %v", err)
	}
	if err := f.c.ContainerStart(ctx, id); err != nil {
		t.Fatal(err)
	}
	execID, err := f.c.ExecCreate("box", engine.ExecConfig{Cmd: []string{"cat", ";", "exit", "4"}, AttachStdin: true, AttachStdout: true})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := f.c.ExecStart(ctx, execID, engine.ExecStartOptions{Stdin: strings.NewReader("ping\n"), Stdout: &out}); err != nil {
		t.Fatal(err)
	}
	info, err := f.c.ExecInspect(execID)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "ping\n" || info.Running || info.ExitCode == nil || *info.ExitCode != 4 || info.ContainerID != id {
		t.Fatalf("exec: out=%q info=%+v", out.String(), info)
	}
	if err := f.c.ExecStart(ctx, execID, engine.ExecStartOptions{}); !errdefs.IsConflict(err) {
		t.Fatalf("second exec start: %v", err)
	}
	if _, err := f.c.ExecInspect("nope"); !errdefs.IsNotFound(err) {
		t.Fatalf("unknown exec: %v", err)
	}
	cinfo, _ := f.c.ContainerInspect(id)
	if len(cinfo.ExecIDs) != 1 || cinfo.ExecIDs[0] != execID {
		t.Fatalf("ExecIDs = %v", cinfo.ExecIDs)
	}
}

func TestStartFailureIsRecorded(t *testing.T) {
	f := newFixture(t)
	id := f.create(t, "doomed", "sleep", "1")
	f.rt.StartErr = errdefs.InvalidParameter(errors.New("cannot emulate"))
	err := f.c.ContainerStart(context.Background(), id)
	if !errdefs.IsInvalidParameter(err) {
		t.Fatalf("start error class lost: %v", err)
	}
	info, _ := f.c.ContainerInspect(id)
	if info.State.Running || info.State.Error != "cannot emulate" {
		t.Fatalf("state after failed start: %+v", info.State)
	}
}
