package container_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
)

// TestStatsAPI replays docker stats: one-shot, stream=false (two samples
// a second apart, the first as precpu_stats), a stream of one JSON per
// second, and the empty sample of a container that is not running.
func TestStatsAPI(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	idle := create(t, cli, "idle", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	id := create(t, cli, "web", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}

	status, body := doJSON(t, url, "GET", "/v1.51/containers/idle/stats?stream=false", "")
	var st container.StatsResponse
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != http.StatusOK || st.ID != idle || st.Name != "/idle" ||
		!st.Read.IsZero() || st.MemoryStats.Usage != 0 || strings.Contains(body, "networks") {
		t.Fatalf("stats of a created container: %d %s", status, body)
	}

	status, body = doJSON(t, url, "GET", "/v1.51/containers/web/stats?stream=false&one-shot=true", "")
	st = container.StatsResponse{}
	if err := json.Unmarshal([]byte(body), &st); err != nil || status != http.StatusOK || st.Read.IsZero() || !st.PreRead.IsZero() ||
		st.CPUStats.CPUUsage.TotalUsage == 0 || st.CPUStats.SystemUsage == 0 || st.CPUStats.OnlineCPUs != 1 ||
		st.MemoryStats.Usage != 64<<20 || st.MemoryStats.Limit != 512<<20 || st.MemoryStats.Stats["inactive_file"] != 8<<20 ||
		st.PidsStats.Current != 1 || st.Networks["eth0"].RxBytes == 0 || len(st.BlkioStats.IoServiceBytesRecursive) != 2 ||
		st.BlkioStats.IoServiceBytesRecursive[0].Op != "read" || st.BlkioStats.IoServiceBytesRecursive[1].Op != "write" {
		t.Fatalf("one-shot stats: %d %s", status, body)
	}

	start := time.Now()
	resp, err := cli.ContainerStats(ctx, id, false)
	if err != nil {
		t.Fatal(err)
	}
	st = container.StatsResponse{}
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.PreRead.IsZero() || st.CPUStats.CPUUsage.TotalUsage <= st.PreCPUStats.CPUUsage.TotalUsage ||
		st.CPUStats.SystemUsage <= st.PreCPUStats.SystemUsage || time.Since(start) < 900*time.Millisecond {
		t.Fatalf("stream=false: %+v %v after %v", st, err, time.Since(start))
	}

	sctx, cancel := context.WithCancel(ctx)
	resp, err = cli.ContainerStats(sctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	var reads []time.Time
	for len(reads) < 3 {
		var s container.StatsResponse
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("stream: after %d samples: %v", len(reads), err)
		}
		reads = append(reads, s.Read)
	}
	cancel()
	resp.Body.Close()
	if d := reads[2].Sub(reads[1]); d < 900*time.Millisecond || d > 2*time.Second {
		t.Fatalf("stream samples %v apart, want one second", d)
	}

	for _, c := range []struct {
		path string
		want int
		text string
	}{
		{"/v1.51/containers/ghost/stats?stream=false", http.StatusNotFound, "No such container: ghost"},
		{"/v1.51/containers/web/stats?stream=true&one-shot=true", http.StatusBadRequest, "cannot have stream=true and one-shot=true"},
	} {
		status, body := doJSON(t, url, "GET", c.path, "")
		if status != c.want || !strings.Contains(body, `"message":"`+c.text) {
			t.Errorf("GET %s = %d %s, want %d %q", c.path, status, body, c.want, c.text)
		}
	}
}

// TestTopAPI replays docker top with the default and custom ps_args and
// dockerd's errors.
func TestTopAPI(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	idle := create(t, cli, "idle", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	id := create(t, cli, "web", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	top, err := cli.ContainerTop(ctx, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(top.Titles, " ") != "UID PID PPID C STIME TTY TIME CMD" || len(top.Processes) != 1 || top.Processes[0][7] != "sleep inf" {
		t.Fatalf("top: %+v", top)
	}
	top, err = cli.ContainerTop(ctx, "web", []string{"-o", "pid,args"})
	if err != nil || strings.Join(top.Titles, " ") != "PID COMMAND" || top.Processes[0][1] != "sleep inf" {
		t.Fatalf("top -o pid,args: %+v %v", top, err)
	}
	for _, c := range []struct {
		path string
		want int
		text string
	}{
		{"/v1.51/containers/ghost/top", http.StatusNotFound, "No such container: ghost"},
		{"/v1.51/containers/idle/top", http.StatusConflict, "Container " + idle + " is not running"},
		{"/v1.51/containers/web/top?ps_args=-Z", http.StatusInternalServerError, `ps: error: unsupported option \"-Z\"`},
		{"/v1.51/containers/web/top?ps_args=-o+comm", http.StatusInternalServerError, "Couldn't find PID field in ps output"},
	} {
		status, body := doJSON(t, url, "GET", c.path, "")
		if status != c.want || !strings.Contains(body, `"message":"`+c.text) {
			t.Errorf("GET %s = %d %s, want %d %q", c.path, status, body, c.want, c.text)
		}
	}
}

// TestPauseUnpauseAPI replays docker pause and unpause: status codes,
// the paused state in inspect and ps, and dockerd's errors for exec,
// attach and rm of a paused container.
func TestPauseUnpauseAPI(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	idle := create(t, cli, "idle", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	id := create(t, cli, "web", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	if status, body := doJSON(t, url, "POST", "/v1.51/containers/web/pause", ""); status != http.StatusNoContent || body != "" {
		t.Fatalf("pause: %d %s", status, body)
	}
	info, err := cli.ContainerInspect(ctx, id)
	if err != nil || !info.State.Paused || !info.State.Running || info.State.Status != "paused" {
		t.Fatalf("inspect: %+v %v", info.State, err)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{})
	if err != nil || len(list) != 1 || list[0].State != "paused" || !strings.HasSuffix(list[0].Status, " (Paused)") {
		t.Fatalf("ps: %+v %v", list, err)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
		text               string
	}{
		{"POST", "/v1.51/containers/web/pause", "", http.StatusConflict, "Container " + id + " is already paused"},
		{"POST", "/v1.51/containers/idle/pause", "", http.StatusConflict, "Container " + idle + " is not running"},
		{"POST", "/v1.51/containers/ghost/pause", "", http.StatusNotFound, "No such container: ghost"},
		{"POST", "/v1.51/containers/ghost/unpause", "", http.StatusNotFound, "No such container: ghost"},
		{"POST", "/v1.51/containers/idle/unpause", "", http.StatusInternalServerError, "Container " + idle + " is not paused"},
		{"POST", "/v1.51/containers/web/exec", `{"Cmd":["echo"]}`, http.StatusConflict, "Container web is paused, unpause the container before exec"},
		{"POST", "/v1.51/containers/web/attach?stream=1&stdout=1", "", http.StatusConflict, "container web is paused, unpause the container before attach"},
		{"DELETE", "/v1.51/containers/web", "", http.StatusConflict, "container is paused and must be unpaused first"},
	} {
		status, body := doJSON(t, url, c.method, c.path, c.body)
		if status != c.want || !strings.Contains(body, c.text) {
			t.Errorf("%s %s = %d %s, want %d %q", c.method, c.path, status, body, c.want, c.text)
		}
	}
	if status, body := doJSON(t, url, "POST", "/v1.51/containers/web/unpause", ""); status != http.StatusNoContent || body != "" {
		t.Fatalf("unpause: %d %s", status, body)
	}
	info, _ = cli.ContainerInspect(ctx, id)
	if info.State.Paused || info.State.Status != "running" {
		t.Fatalf("inspect after unpause: %+v", info.State)
	}
	if status, body := doJSON(t, url, "POST", "/v1.51/containers/web/unpause", ""); status != http.StatusInternalServerError || !strings.Contains(body, "Container "+id+" is not paused") {
		t.Fatalf("second unpause: %d %s", status, body)
	}
}
