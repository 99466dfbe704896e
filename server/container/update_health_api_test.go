package container_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
)

// TestUpdateRestartPolicyAndResources replays `docker update`: the restart
// policy changes, a running VM's size cannot, dockerd's texts for bad
// input, and warnings for limits a VM has no equivalent for.
func TestUpdateRestartPolicyAndResources(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "web", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)

	res, err := cli.ContainerUpdate(ctx, "web", container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}})
	if err != nil || len(res.Warnings) != 0 {
		t.Fatalf("update restart policy: %v %v", res.Warnings, err)
	}
	info, _ := cli.ContainerInspect(ctx, id)
	if info.HostConfig.RestartPolicy.Name != "on-failure" || info.HostConfig.RestartPolicy.MaximumRetryCount != 3 {
		t.Fatalf("restart policy after update: %+v", info.HostConfig.RestartPolicy)
	}

	// Created: the VM's size changes for its first start.
	if _, err := cli.ContainerUpdate(ctx, "web", container.UpdateConfig{Resources: container.Resources{Memory: 256 << 20}}); err != nil {
		t.Fatal(err)
	}
	info, _ = cli.ContainerInspect(ctx, id)
	if info.HostConfig.Memory != 256<<20 {
		t.Fatalf("memory after update: %d", info.HostConfig.Memory)
	}

	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = cli.ContainerUpdate(ctx, "web", container.UpdateConfig{Resources: container.Resources{Memory: 128 << 20}})
	if err == nil || !strings.Contains(err.Error(), "Cannot update container "+id+": the memory and CPUs of a running container cannot change") {
		t.Fatalf("resize running: %v", err)
	}
	res, err = cli.ContainerUpdate(ctx, "web", container.UpdateConfig{Resources: container.Resources{CPUShares: 512}})
	if err != nil || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "CPUShares") {
		t.Fatalf("cpu-shares: warnings %q, %v", res.Warnings, err)
	}

	for _, c := range []struct {
		path, body string
		want       int
		text       string
	}{
		{"/v1.51/containers/ghost/update", `{"RestartPolicy":{"Name":"always"}}`, http.StatusNotFound, "No such container: ghost"},
		{"/v1.51/containers/web/update", `{"RestartPolicy":{"Name":"sometimes"}}`, http.StatusBadRequest, "invalid restart policy: unknown policy 'sometimes'"},
		{"/v1.51/containers/web/update", `{"RestartPolicy":{"Name":"always","MaximumRetryCount":2}}`, http.StatusBadRequest, "maximum retry count can only be used with 'on-failure'"},
		{"/v1.51/containers/web/update", `{"Memory":`, http.StatusBadRequest, ""},
		{"/v1.51/containers/web/update", `{"Memory":134217728}`, http.StatusConflict, "stop the container, update it, then start it"},
	} {
		status, body := doJSON(t, url, "POST", c.path, c.body)
		if status != c.want || !strings.Contains(body, c.text) {
			t.Errorf("POST %s %s = %d %s, want %d %q", c.path, c.body, status, body, c.want, c.text)
		}
	}

	rm := create(t, cli, "", &container.Config{}, &container.HostConfig{AutoRemove: true})
	_, err = cli.ContainerUpdate(ctx, rm, container.UpdateConfig{RestartPolicy: container.RestartPolicy{Name: "always"}})
	if err == nil || !strings.Contains(err.Error(), "Restart policy cannot be updated because AutoRemove is enabled for the container") {
		t.Fatalf("update --rm container: %v", err)
	}
}

// TestHealthInInspectAndPs checks the health check through the API: the
// State.Health of inspect, `(healthy)` in ps's status, the health filter
// and its validation.
func TestHealthInInspectAndPs(t *testing.T) {
	cli, url := newAPI(t)
	ctx := context.Background()
	id := create(t, cli, "web", &container.Config{
		Cmd:         []string{"sleep", "inf"},
		Healthcheck: &container.HealthConfig{Test: []string{"CMD-SHELL", "check"}, Interval: 10 * time.Millisecond},
		Shell:       []string{"echo"}, // the fake runs `echo check`: exit 0
	}, nil)
	if err := cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := cli.ContainerInspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if h := info.State.Health; h != nil && h.Status == container.Healthy {
			if len(h.Log) == 0 || h.Log[0].Output != "check\n" || h.Log[0].ExitCode != 0 {
				t.Fatalf("health log: %+v", h.Log[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never healthy: %+v", info.State.Health)
		}
		time.Sleep(10 * time.Millisecond)
	}
	list, err := cli.ContainerList(ctx, container.ListOptions{Filters: filters.NewArgs(filters.Arg("health", "healthy"))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !strings.HasPrefix(list[0].Status, "Up ") || !strings.HasSuffix(list[0].Status, " (healthy)") {
		t.Fatalf("ps --filter health=healthy: %+v", list)
	}
	status, body := doJSON(t, url, "GET", "/v1.51/containers/json?filters=%7B%22health%22%3A%7B%22fine%22%3Atrue%7D%7D", "")
	if status != http.StatusBadRequest || !strings.Contains(body, "invalid filter 'health=fine': invalid value for health (fine): must be one of none, starting, healthy, unhealthy") {
		t.Fatalf("bad health filter: %d %s", status, body)
	}
}

func doJSON(t *testing.T, url, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return resp.StatusCode, b.String()
}
