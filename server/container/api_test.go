package container_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	apievents "github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/internal/apitest"
	containerrouter "github.com/pier-vm/pier/server/container"
	eventsrouter "github.com/pier-vm/pier/server/events"
	execrouter "github.com/pier-vm/pier/server/exec"
	"github.com/pier-vm/pier/server/httputils"
)

// newAPI serves the container, exec and events routers over the fake
// runtime and returns a real Docker client talking to them, and the URL.
func newAPI(t *testing.T) (*client.Client, string) {
	t.Helper()
	a := apitest.New(t, func(c *engine.Containers, bus *events.Bus) []httputils.Router {
		return []httputils.Router{containerrouter.NewRouter(c), execrouter.NewRouter(c), eventsrouter.NewRouter(bus)}
	})
	return a.Client, a.URL
}

func create(t *testing.T, cli *client.Client, name string, cfg *container.Config, hc *container.HostConfig) string {
	t.Helper()
	if cfg.Image == "" {
		cfg.Image = "busybox"
	}
	res, err := cli.ContainerCreate(context.Background(), cfg, hc, nil, nil, name)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(res.Warnings) != 0 {
		t.Fatalf("warnings: %v", res.Warnings)
	}
	return res.ID
}

func TestCreateInspectAndErrors(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "web", &container.Config{Cmd: []string{"sleep", "inf"}, Labels: map[string]string{"app": "web"}}, nil)

	info, err := cli.ContainerInspect(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if info.ID != id || info.Name != "/web" || info.State.Status != "created" || info.State.FinishedAt != "0001-01-01T00:00:00Z" ||
		info.Platform != "linux" || !strings.HasPrefix(info.Image, "sha256:") || info.NetworkSettings == nil || info.Mounts == nil ||
		info.Config.Hostname != id[:12] || info.Path != "sleep" || info.HostConfig.LogConfig.Type != "json-file" {
		t.Fatalf("inspect: %+v / %+v", info.ContainerJSONBase, info.Config)
	}

	_, err = cli.ContainerCreate(ctx, &container.Config{Image: "busybox"}, nil, nil, nil, "web")
	if err == nil || !strings.Contains(err.Error(), `Conflict. The container name "/web" is already in use by container "`+id+`"`) {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = cli.ContainerCreate(ctx, &container.Config{Image: "nope"}, nil, nil, nil, "")
	if err == nil || !strings.Contains(err.Error(), "No such image: nope") {
		t.Fatalf("missing image: %v", err)
	}
	_, err = cli.ContainerInspect(ctx, "ghost")
	if err == nil || !strings.Contains(err.Error(), "No such container: ghost") {
		t.Fatalf("inspect unknown: %v", err)
	}
	if err := cli.ContainerKill(ctx, "web", "KILL"); err == nil || !strings.Contains(err.Error(), "Container "+id+" is not running") {
		t.Fatalf("kill stopped: %v", err)
	}

	// Status codes that the Go client hides.
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{"POST", "/v1.51/containers/web/stop", http.StatusNotModified},
		{"POST", "/v1.51/containers/create?name=bad%20name", http.StatusBadRequest},
		{"POST", "/v1.51/containers/web/wait?condition=sideways", http.StatusBadRequest},
		{"GET", "/v1.51/containers/web/logs", http.StatusBadRequest},
		{"GET", "/v1.51/containers/json?filters=%7B%22bogus%22%3A%7B%22x%22%3Atrue%7D%7D", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, url+c.path, strings.NewReader(`{"Image":"busybox"}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}

	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerRemove(ctx, "web", container.RemoveOptions{}); err == nil ||
		!strings.Contains(err.Error(), `cannot remove container "/web": container is running`) {
		t.Fatalf("remove running: %v", err)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "app=web"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Names[0] != "/web" || list[0].State != "running" || !strings.HasPrefix(list[0].Status, "Up ") ||
		list[0].Command != "sleep inf" || list[0].Image != "busybox" {
		t.Fatalf("ps: %+v", list)
	}
	if err := cli.ContainerRemove(ctx, "web", container.RemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
}

// TestRunAttachedAutoRemove replays `docker run --rm busybox ...`: attach,
// wait?condition=removed, start.
func TestRunAttachedAutoRemove(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "", &container.Config{Cmd: []string{"echo", "hi", ";", "stderr", "warn", ";", "exit", "5"}, AttachStdout: true, AttachStderr: true},
		&container.HostConfig{AutoRemove: true})

	hj, err := cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	if mt, _ := hj.MediaType(); mt != "application/vnd.docker.multiplexed-stream" {
		t.Fatalf("attach media type %q", mt)
	}
	waitC, errC := cli.ContainerWait(ctx, id, container.WaitConditionRemoved)
	time.Sleep(50 * time.Millisecond) // the wait request is in flight, as with the CLI
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "hi\n" || stderr.String() != "warn\n" {
		t.Fatalf("attached stdout %q stderr %q", stdout.String(), stderr.String())
	}
	select {
	case res := <-waitC:
		if res.StatusCode != 5 {
			t.Fatalf("wait: %+v", res)
		}
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(5 * time.Second):
		t.Fatal("wait timed out")
	}
	if _, err := cli.ContainerInspect(ctx, id); err == nil {
		t.Fatal("auto-removed container still inspectable")
	}
}

func TestLogsAndPs(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "talker", &container.Config{Cmd: []string{"echo", "one", ";", "stderr", "two", ";", "exit", "3"}}, nil)
	waitC, _ := cli.ContainerWait(ctx, id, container.WaitConditionNextExit)
	time.Sleep(20 * time.Millisecond)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if res := <-waitC; res.StatusCode != 3 {
		t.Fatalf("wait: %+v", res)
	}
	rc, err := cli.ContainerLogs(ctx, "talker", container.LogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if !strings.HasSuffix(stdout.String(), "Z one\n") || !strings.HasSuffix(stderr.String(), "Z two\n") {
		t.Fatalf("logs stdout %q stderr %q", stdout.String(), stderr.String())
	}
	if _, err := time.Parse(time.RFC3339Nano, strings.Fields(stdout.String())[0]); err != nil {
		t.Fatalf("timestamp: %v", err)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("exited", "3"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].State != "exited" || !strings.HasPrefix(list[0].Status, "Exited (3) ") {
		t.Fatalf("ps -a: %+v", list)
	}
	if list, _ := cli.ContainerList(ctx, container.ListOptions{}); len(list) != 0 {
		t.Fatalf("ps shows stopped containers: %+v", list)
	}
	report, err := cli.ContainersPrune(ctx, filters.NewArgs())
	if err != nil {
		t.Fatal(err)
	}
	if len(report.ContainersDeleted) != 1 || report.ContainersDeleted[0] != id {
		t.Fatalf("prune: %+v", report)
	}
}

func TestExecWithStdin(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "box", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	if _, err := cli.ContainerExecCreate(ctx, id, container.ExecOptions{Cmd: []string{"echo"}}); err == nil {
		t.Fatal("exec in a created container succeeded")
	}
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	exec, err := cli.ContainerExecCreate(ctx, "box", container.ExecOptions{
		Cmd: []string{"cat", ";", "stderr", "done", ";", "exit", "2"}, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	hj, err := cli.ContainerExecAttach(ctx, exec.ID, container.ExecAttachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	if _, err := io.WriteString(hj.Conn, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if err := hj.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "ping\n" || stderr.String() != "done\n" {
		t.Fatalf("exec stdout %q stderr %q", stdout.String(), stderr.String())
	}
	info, err := cli.ContainerExecInspect(ctx, exec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if info.Running || info.ExitCode != 2 || info.ContainerID != id {
		t.Fatalf("exec inspect: %+v", info)
	}
	if err := cli.ContainerStop(ctx, id, container.StopOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestEventsStream(t *testing.T) {
	cli, _ := newAPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs, errs := cli.Events(ctx, apievents.ListOptions{Filters: filters.NewArgs(
		filters.Arg("type", "container"), filters.Arg("label", "project=p1"))})
	time.Sleep(50 * time.Millisecond) // subscribed
	id := create(t, cli, "ev", &container.Config{Cmd: []string{"exit", "4"}, Labels: map[string]string{"project": "p1"}}, nil)
	create(t, cli, "other", &container.Config{Cmd: []string{"exit", "0"}}, nil)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) < 3 {
		select {
		case m := <-msgs:
			if m.Actor.ID != id || m.Scope != "local" || m.TimeNano == 0 || m.Actor.Attributes["name"] != "ev" {
				t.Fatalf("event %+v", m)
			}
			if m.Action == "die" && m.Actor.Attributes["exitCode"] != "4" {
				t.Fatalf("die without exit code: %+v", m)
			}
			got = append(got, string(m.Action))
		case err := <-errs:
			t.Fatalf("events: %v (got %v)", err, got)
		}
	}
	if strings.Join(got, ",") != "create,start,die" {
		t.Fatalf("events %v", got)
	}
	// History replay with since/until.
	since := time.Now().Add(-time.Minute)
	replay, errs := cli.Events(ctx, apievents.ListOptions{
		Since: since.Format(time.RFC3339), Until: time.Now().Format(time.RFC3339Nano),
		Filters: filters.NewArgs(filters.Arg("container", "ev"), filters.Arg("event", "create")),
	})
	select {
	case m := <-replay:
		if m.Action != "create" || m.Actor.ID != id {
			t.Fatalf("replayed %+v", m)
		}
	case err := <-errs:
		t.Fatalf("replay: %v", err)
	}
}

// TestRunInteractive replays `docker run -i`: stdin attached before start,
// and closing it ends the process (StdinOnce).
func TestRunInteractive(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "", &container.Config{Cmd: []string{"cat", ";", "echo", "eof"}, OpenStdin: true, StdinOnce: true,
		AttachStdin: true, AttachStdout: true, AttachStderr: true}, nil)
	hj, err := cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	if _, err := io.WriteString(hj.Conn, "typed\n"); err != nil {
		t.Fatal(err)
	}
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := hj.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if _, err := stdcopy.StdCopy(&stdout, &stderr, hj.Reader); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "typed\neof\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
	waitC, errC := cli.ContainerWait(ctx, id, "")
	select {
	case res := <-waitC:
		if res.StatusCode != 0 {
			t.Fatalf("wait %+v", res)
		}
	case err := <-errC:
		t.Fatal(err)
	}
}

// TestTTYStreamsAreRaw checks that a TTY container's attach and logs carry
// raw bytes, not stdcopy frames.
func TestTTYStreamsAreRaw(t *testing.T) {
	cli, _ := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "tty", &container.Config{Cmd: []string{"echo", "out", ";", "stderr", "err"}, Tty: true}, nil)
	hj, err := cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Close()
	if mt, _ := hj.MediaType(); mt != "application/vnd.docker.raw-stream" {
		t.Fatalf("media type %q", mt)
	}
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(hj.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != "out\nerr\n" {
		t.Fatalf("attach %q", raw)
	}
	rc, err := cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if raw, _ = io.ReadAll(rc); string(raw) != "out\nerr\n" {
		t.Fatalf("logs %q", raw)
	}
}
