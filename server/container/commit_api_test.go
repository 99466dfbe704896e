package container_test

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/internal/apitest"
	containerrouter "github.com/pier-vm/pier/server/container"
	"github.com/pier-vm/pier/server/httputils"
)

func TestCommitRoute(t *testing.T) {
	a := apitest.New(t, func(c *engine.Containers, _ *events.Bus) []httputils.Router {
		return []httputils.Router{containerrouter.NewRouter(c)}
	})
	ctx := context.Background()
	create(t, a.Client, "web", &container.Config{Cmd: []string{"sleep", "inf"}}, nil)
	if err := a.Client.ContainerStart(ctx, "web", container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := a.Client.ContainerCommit(ctx, "web", container.CommitOptions{
		Reference: "newimg:1", Author: "me", Comment: "msg",
		Changes: []string{`CMD ["cat","/hello"]`, "ENV X=1"},
		Pause:   true,
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := a.Images.Resolve("newimg:1", nil)
	if err != nil || img.ID != res.ID || !strings.HasPrefix(res.ID, "sha256:") {
		t.Fatalf("newimg:1 = %+v, %v; response %+v", img, err, res)
	}
	if !reflect.DeepEqual(img.Config.Config.Cmd, []string{"cat", "/hello"}) || img.Config.Author != "me" || !reflect.DeepEqual(img.Config.Config.Env, []string{"PATH=/bin", "X=1"}) {
		t.Fatalf("config %+v", img.Config)
	}

	// pause=0 reads the running container's layer without freezing it;
	// pause defaults to true.
	if code, body := a.Do(t, "POST", "/commit?container=web&pause=0", ""); code != http.StatusCreated {
		t.Fatalf("pause=0: %d %s", code, body)
	}
	if code, body := a.Do(t, "POST", "/commit?container=web", ""); code != http.StatusCreated {
		t.Fatalf("default pause: %d %s", code, body)
	}
	info, _ := a.Client.ContainerInspect(ctx, "web")
	if got := a.Runtime.LayerFreezes(info.ID); !reflect.DeepEqual(got, []bool{true, false, true}) {
		t.Fatalf("freezes = %v", got)
	}

	// A config in the body is the base of the new config.
	code, body := a.Do(t, "POST", "/commit?container=web&repo=fromBody&changes=USER+app", `{"Cmd":["serve"],"ExposedPorts":{"8080/tcp":{}}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "must be lowercase") {
		t.Fatalf("uppercase repo: %d %s", code, body)
	}
	code, body = a.Do(t, "POST", "/commit?container=web&repo=frombody&changes=USER+app", `{"Cmd":["serve"],"ExposedPorts":{"8080/tcp":{}}}`)
	if code != http.StatusCreated {
		t.Fatalf("body config: %d %s", code, body)
	}
	img, err = a.Images.Resolve("frombody:latest", nil)
	if err != nil || !reflect.DeepEqual(img.Config.Config.Cmd, []string{"serve"}) || img.Config.Config.User != "app" {
		t.Fatalf("frombody = %+v, %v", img, err)
	}
	if _, ok := img.Config.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Fatalf("exposed ports %v", img.Config.Config.ExposedPorts)
	}
}

func TestCommitRouteErrors(t *testing.T) {
	a := apitest.New(t, func(c *engine.Containers, _ *events.Bus) []httputils.Router {
		return []httputils.Router{containerrouter.NewRouter(c)}
	})
	create(t, a.Client, "web", &container.Config{Cmd: []string{"true"}}, nil)
	for _, c := range []struct {
		query, body string
		code        int
		want        string
	}{
		{"container=nope", "", http.StatusNotFound, "No such container: nope"},
		{"container=web&changes=FOO+bar", "", http.StatusBadRequest, "FOO is not a valid change command"},
		{"container=web&changes=RUN+echo", "", http.StatusBadRequest, "RUN is not a valid change command"},
		{"container=web&repo=x&tag=bad+tag", "", http.StatusBadRequest, "invalid tag format"},
		{"container=web", "{", http.StatusBadRequest, "invalid JSON"},
	} {
		code, body := a.Do(t, "POST", "/commit?"+c.query, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d %s, want %d %q", c.query, c.body, code, body, c.code, c.want)
		}
	}
}
