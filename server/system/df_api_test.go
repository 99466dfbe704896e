package system_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/volume"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/fakeruntime"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/internal/apitest"
)

func TestSystemDiskUsage(t *testing.T) {
	images := fakeruntime.NewImages()
	img := images.Add("busybox:latest", platform.Platform{OS: "linux", Architecture: "amd64"}, v1.Config{Cmd: []string{"sh"}})
	img.Size = 1234
	d := apitest.NewDaemon(t, images)
	ctx := context.Background()
	c, err := d.Client.ContainerCreate(ctx, &container.Config{Image: "busybox"}, &container.HostConfig{Binds: []string{"data:/data"}}, nil, nil, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Client.VolumeCreate(ctx, volume.CreateOptions{Name: "spare"}); err != nil {
		t.Fatal(err)
	}

	du, err := d.Client.DiskUsage(ctx, types.DiskUsageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(du.Images) != 1 || du.Images[0].ID != img.ID || du.Images[0].Containers != 1 || du.Images[0].SharedSize != 0 {
		t.Fatalf("images: %+v", du.Images)
	}
	if len(du.Containers) != 1 || du.Containers[0].ID != c.ID || du.Containers[0].Names[0] != "/c1" || du.Containers[0].SizeRootFs != 1234 {
		t.Fatalf("containers: %+v", du.Containers)
	}
	refs := map[string]int64{}
	for _, v := range du.Volumes {
		if v.UsageData == nil {
			t.Fatalf("volume without UsageData: %+v", v)
		}
		refs[v.Name] = v.UsageData.RefCount
	}
	if len(refs) != 2 || refs["data"] != 1 || refs["spare"] != 0 {
		t.Fatalf("volumes: %+v", du.Volumes)
	}
	if du.BuildCache == nil || len(du.BuildCache) != 0 {
		t.Fatalf("build cache: %+v", du.BuildCache)
	}

	// type picks the parts (API 1.42+); the others are null.
	status, body := d.Do(t, http.MethodGet, "/v1.51/system/df?type=volume", "")
	var raw map[string]json.RawMessage
	if status != http.StatusOK || json.Unmarshal([]byte(body), &raw) != nil ||
		string(raw["Images"]) != "null" || string(raw["Containers"]) != "null" || string(raw["BuildCache"]) != "null" || !strings.HasPrefix(string(raw["Volumes"]), "[{") {
		t.Fatalf("type=volume: %d %s", status, body)
	}
	status, body = d.Do(t, http.MethodGet, "/v1.51/system/df?type=nonsense", "")
	if status != http.StatusBadRequest || !strings.Contains(body, "unknown object type: nonsense") {
		t.Fatalf("unknown type: %d %s", status, body)
	}
	// Before 1.42 type is not read; before 1.44 images carry VirtualSize.
	status, body = d.Do(t, http.MethodGet, "/v1.41/system/df?type=nonsense", "")
	if status != http.StatusOK || !strings.Contains(body, `"VirtualSize":1234`) {
		t.Fatalf("API 1.41: %d %s", status, body)
	}
}

func TestAuthBodyErrors(t *testing.T) {
	d := apitest.NewDaemon(t, nil)
	status, body := d.Do(t, http.MethodPost, "/v1.51/auth", "")
	// dockerd answers the decoder's error as a 500; pier answers every
	// malformed request with a 4xx (issue 12), so a 400 with that error.
	if status != http.StatusBadRequest || !strings.Contains(body, "EOF") {
		t.Fatalf("no body: %d %s (want the decoder's error as a 400)", status, body)
	}
	status, body = d.Do(t, http.MethodPost, "/v1.51/auth", `{"serveraddress":"http://[::1"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "unable to parse server address") {
		t.Fatalf("bad address: %d %s", status, body)
	}
}
