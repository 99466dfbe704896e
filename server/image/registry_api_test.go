package image_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/filters"
	imagetypes "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pier-vm/pier/internal/apitest"
	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

// stream reads a JSON progress stream to its end.
func stream(t *testing.T, rc io.ReadCloser) []jsonmessage.JSONMessage {
	t.Helper()
	defer rc.Close()
	var out []jsonmessage.JSONMessage
	dec := json.NewDecoder(rc)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func streamError(msgs []jsonmessage.JSONMessage) string {
	for _, m := range msgs {
		if m.Error != nil {
			return m.Error.Message
		}
	}
	return ""
}

// registries starts the test registry holding the test images, one with
// basic authentication and one with the v1 search.
func registries(t *testing.T) (open, locked, search *testregistry.Registry) {
	t.Helper()
	set := testimages.Require(t)
	open = testregistry.Start(t)
	locked = testregistry.Start(t, testregistry.WithBasicAuth("alice", "s3cret"))
	search = testregistry.Start(t, testregistry.WithSearch())
	for _, r := range []*testregistry.Registry{open, search} {
		if err := r.Push(set); err != nil {
			t.Fatal(err)
		}
	}
	return open, locked, search
}

func TestLoginPushHistoryThroughTheAPI(t *testing.T) {
	open, locked, _ := registries(t)
	d := apitest.NewDaemon(t, nil)
	ctx := context.Background()
	src := open.Ref(testimages.Layers, testimages.Latest)
	stream(t, must(d.Client.ImagePull(ctx, src, imagetypes.PullOptions{})))

	// docker login
	ok, err := d.Client.RegistryLogin(ctx, registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: locked.Host})
	if err != nil || ok.Status != "Login Succeeded" {
		t.Fatalf("login: %+v %v", ok, err)
	}
	status, body := d.Do(t, http.MethodPost, "/v1.51/auth", `{"username":"alice","password":"nope","serveraddress":"`+locked.Host+`"}`)
	want := `{"message":"login attempt to http://` + locked.Host + `/v2/ failed with status: 401 Unauthorized"}`
	if status != http.StatusInternalServerError || strings.TrimSpace(body) != want {
		t.Fatalf("wrong password: %d %s, want 500 %s (as dockerd)", status, body, want)
	}

	// docker tag + docker push
	dst := locked.Host + "/mine/layers:v1"
	if err := d.Client.ImageTag(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	msgs := stream(t, must(d.Client.ImagePush(ctx, dst, imagetypes.PushOptions{})))
	if msgs[0].Status != "The push refers to repository ["+locked.Host+"/mine/layers]" || streamError(msgs) != "unauthorized: authentication required" {
		t.Fatalf("push without credentials: %+v", msgs)
	}
	auth, _ := registry.EncodeAuthConfig(registry.AuthConfig{Username: "alice", Password: "s3cret", ServerAddress: locked.Host})
	msgs = stream(t, must(d.Client.ImagePush(ctx, dst, imagetypes.PushOptions{RegistryAuth: auth})))
	if e := streamError(msgs); e != "" {
		t.Fatalf("push: %s", e)
	}
	var pushed struct {
		Tag, Digest string
		Size        int
	}
	var statuses []string
	for _, m := range msgs {
		statuses = append(statuses, m.Status)
		if m.Aux != nil {
			if err := json.Unmarshal(*m.Aux, &pushed); err != nil {
				t.Fatal(err)
			}
		}
	}
	inspect, err := d.Client.ImageInspect(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(dst, name.Insecure)
	desc, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if pushed.Tag != "v1" || pushed.Digest != desc.Digest.String() || pushed.Size != int(desc.Size) ||
		!contains(statuses, "Pushed") || !contains(statuses, "v1: digest: "+pushed.Digest+" size: "+strconv.Itoa(pushed.Size)) {
		t.Fatalf("push stream %q, aux %+v; registry has %s", statuses, pushed, desc.Digest)
	}
	if !contains(inspect.RepoDigests, locked.Host+"/mine/layers@"+pushed.Digest) {
		t.Fatalf("RepoDigests after the push: %v", inspect.RepoDigests)
	}
	// The same digest the image was pulled with.
	srcRef, _ := name.ParseReference(src, name.Insecure)
	if srcDesc, err := remote.Get(srcRef); err != nil || srcDesc.Digest != desc.Digest {
		t.Fatalf("pulled %v, pushed %s (%v)", srcDesc, desc.Digest, err)
	}

	// A name without a local image: dockerd reports it in the stream.
	msgs = stream(t, must(d.Client.ImagePush(ctx, locked.Host+"/nothing:latest", imagetypes.PushOptions{RegistryAuth: auth})))
	if got := streamError(msgs); got != "An image does not exist locally with the tag: "+locked.Host+"/nothing" {
		t.Fatalf("push of nothing: %+v", msgs)
	}
	status, body = d.Do(t, http.MethodPost, `/v1.51/images/`+locked.Host+`/mine/layers/push?tag=v1&platform={"os":"linux"}`, "")
	if status != http.StatusBadRequest || !strings.Contains(body, "both OS and Architecture must be provided") {
		t.Fatalf("push with half a platform: %d %s", status, body)
	}

	// docker history
	hist, err := d.Client.ImageHistory(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 2 || hist[0].ID != inspect.ID || !contains(hist[0].Tags, dst) || hist[1].ID != "<missing>" || hist[1].Tags != nil {
		t.Fatalf("history: %+v", hist)
	}
	var total int64
	for _, h := range hist {
		total += h.Size
		if !strings.HasPrefix(h.CreatedBy, "pier testimages layer ") || h.Created == 0 {
			t.Fatalf("history entry %+v", h)
		}
	}
	if total != inspect.Size {
		t.Fatalf("history sizes add up to %d, image size %d", total, inspect.Size)
	}
	status, body = d.Do(t, http.MethodGet, "/v1.51/images/nosuch/history", "")
	if status != http.StatusNotFound || !strings.Contains(body, "No such image: nosuch") {
		t.Fatalf("history of nothing: %d %s", status, body)
	}
}

func TestSearchAndDistributionThroughTheAPI(t *testing.T) {
	open, _, search := registries(t)
	d := apitest.NewDaemon(t, nil)
	ctx := context.Background()
	res, err := d.Client.ImageSearch(ctx, search.Host+"/busybox", registry.SearchOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res {
		names = append(names, r.Name)
	}
	if !contains(names, testregistry.Namespace+"/busybox") || contains(names, testregistry.Namespace+"/app") {
		t.Fatalf("search: %+v", res)
	}
	for _, f := range []filters.Args{
		filters.NewArgs(filters.Arg("stars", "1")),
		filters.NewArgs(filters.Arg("is-official", "true")),
		filters.NewArgs(filters.Arg("is-automated", "true")),
	} {
		if res, err := d.Client.ImageSearch(ctx, search.Host+"/busybox", registry.SearchOptions{Filters: f}); err != nil || len(res) != 0 {
			t.Fatalf("filter %v: %+v %v", f, res, err)
		}
	}
	for _, c := range []struct {
		query string
		code  int
		msg   string
	}{
		{"term=" + search.Host + "/busybox&filters=" + `{"color":{"red":true}}`, 400, "invalid filter 'color'"},
		{"term=" + search.Host + "/busybox&limit=x", 400, "invalid limit specified"},
		{"term=" + search.Host + "/busybox&limit=101", 400, "limit 101 is outside the range of [1, 100]"},
		{"term=https://" + search.Host + "/busybox", 400, "should not have a scheme"},
		{"term=" + open.Host + "/busybox", 500, "Unexpected status code 404"},
	} {
		status, body := d.Do(t, http.MethodGet, "/v1.51/images/search?"+c.query, "")
		if status != c.code || !strings.Contains(body, c.msg) {
			t.Errorf("search %s: %d %s, want %d %q", c.query, status, body, c.code, c.msg)
		}
	}

	di, err := d.Client.DistributionInspect(ctx, open.Ref(testimages.Busybox, testimages.Latest), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(di.Platforms) != 2 || di.Descriptor.Digest == "" {
		t.Fatalf("distribution: %+v", di)
	}
	status, body := d.Do(t, http.MethodGet, "/v1.51/distribution/"+open.Host+"/pier-test/busybox:nosuchtag/json", "")
	if status != http.StatusNotFound {
		t.Fatalf("distribution of an unknown tag: %d %s", status, body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
