package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

// TestLoginPushPullBackHistory: docker login to a registry with basic
// authentication (right and wrong password), docker tag + docker push of a
// pulled image, then a pull on a second, clean daemon gets the same
// digest and runs; docker history; docker search.
func TestLoginPushPullBackHistory(t *testing.T) {
	d := sharedDaemon(t)
	locked, err := testregistry.Serve("127.0.0.1:0", testregistry.WithBasicAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer locked.Close()

	if out, errOut, code := d.docker(t, "", "login", "-u", "alice", "-p", "wrong", locked.Host); code == 0 ||
		!strings.Contains(errOut, "login attempt to http://"+locked.Host+"/v2/ failed with status: 401 Unauthorized") {
		t.Fatalf("login with a wrong password: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := d.docker(t, "s3cret\n", "login", "-u", "alice", "--password-stdin", locked.Host); code != 0 || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}

	src := reg.Ref(testimages.Layers, testimages.Latest)
	dst := locked.Host + "/e2e/layers:v1"
	d.ok(t, "pull", "-q", src)
	d.ok(t, "tag", src, dst)
	out := d.ok(t, "push", dst)
	if !strings.Contains(out, "The push refers to repository ["+locked.Host+"/e2e/layers]") || !strings.Contains(out, "Pushed") || !strings.Contains(out, "v1: digest: sha256:") {
		t.Fatalf("push: %s", out)
	}
	t.Logf("docker push:\n%s", out)
	pushedDigest := strings.Fields(out[strings.Index(out, "v1: digest: ")+len("v1: digest: "):])[0]
	if got := d.ok(t, "image", "inspect", "-f", "{{json .RepoDigests}}", dst); !strings.Contains(got, locked.Host+"/e2e/layers@"+pushedDigest) {
		t.Fatalf("RepoDigests after the push: %s (pushed %s)", got, pushedDigest)
	}
	if out := d.ok(t, "push", dst); !strings.Contains(out, "Layer already exists") || strings.Contains(out, "Pushed") {
		t.Fatalf("second push: %s", out)
	}
	if out, errOut, code := d.docker(t, "", "push", locked.Host+"/e2e/nothing"); code == 0 || !strings.Contains(errOut, "An image does not exist locally with the tag: "+locked.Host+"/e2e/nothing") {
		t.Fatalf("push of nothing: exit %d\n%s%s", code, out, errOut)
	}

	// docker history: the newest entry has the image's ID, the older ones
	// <missing>; every entry made a layer here.
	hist := d.ok(t, "history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Size}}", dst)
	t.Logf("docker history:\n%s", d.ok(t, "history", dst))
	lines := strings.Split(strings.TrimSpace(hist), "\n")
	id := strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{.Id}}", dst))
	if len(lines) < 2 || !strings.HasPrefix(lines[0], id+"|pier testimages layer ") || !strings.HasPrefix(lines[1], "<missing>|pier testimages layer ") {
		t.Fatalf("history:\n%s", hist)
	}

	// A second daemon, with nothing stored, pulls the pushed tag back.
	clean := startDaemon(t)
	defer clean.stop(t)
	if _, errOut, code := clean.docker(t, "", "pull", dst); code == 0 || !strings.Contains(errOut, "pull access denied") {
		t.Fatalf("pull without login: exit %d %s", code, errOut)
	}
	clean.ok(t, "login", "-u", "alice", "-p", "s3cret", locked.Host)
	clean.ok(t, "pull", dst)
	if got := clean.ok(t, "image", "inspect", "-f", "{{.Id}} {{json .RepoDigests}}", dst); !strings.HasPrefix(got, id+" ") || !strings.Contains(got, "@"+pushedDigest) {
		t.Fatalf("pulled back: %s; want ID %s and digest %s", got, id, pushedDigest)
	}
	if out := clean.ok(t, "run", "--rm", dst, "echo", "pulled back"); strings.TrimSpace(out) != "pulled back" {
		t.Fatalf("run of the pulled-back image: %q", out)
	}
}

// TestSearch: docker search asks a registry's v1 search; a registry
// without one gets dockerd's error.
func TestSearch(t *testing.T) {
	d := sharedDaemon(t)
	searchable, err := testregistry.Serve("127.0.0.1:0", testregistry.WithSearch())
	if err != nil {
		t.Fatal(err)
	}
	defer searchable.Close()
	if err := searchable.Push(testimages.Require(t)); err != nil {
		t.Fatal(err)
	}
	t.Logf("docker search:\n%s", d.ok(t, "search", searchable.Host+"/busybox"))
	out := d.ok(t, "search", "--format", "{{.Name}}|{{.Description}}", searchable.Host+"/busybox")
	if !strings.Contains(out, testregistry.Namespace+"/busybox|pier test image") || strings.Contains(out, "/app|") {
		t.Fatalf("search: %q", out)
	}
	if out := d.ok(t, "search", "--filter", "is-official=true", "--format", "{{.Name}}", searchable.Host+"/busybox"); strings.TrimSpace(out) != "" {
		t.Fatalf("search --filter is-official=true: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "search", reg.Host+"/busybox"); code == 0 || !strings.Contains(errOut, "Unexpected status code 404") {
		t.Fatalf("search on a registry without search: exit %d %q", code, errOut)
	}
}

// TestSystemDFAndPrune: docker system df and -v count images (shared
// size, the containers using them), containers (their writable disk's
// allocated blocks) and volumes (size, links); docker system prune then
// removes the exited container and the unused images (a daemon of its own,
// so that nothing of the other tests is pruned).
func TestSystemDFAndPrune(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t)
	defer d.stop(t)
	ref := reg.Ref(testimages.App, testimages.Latest)
	d.ok(t, "pull", "-q", ref)
	d.ok(t, "pull", "-q", reg.Ref(testimages.Layers, testimages.Latest))
	d.ok(t, "run", "--name", "df-user", "--user", "root", "-v", "df-vol:/data", "--entrypoint", "sh", ref, "-c", "head -c 300000 /dev/urandom > /data/blob && head -c 2000000 /dev/urandom > /root-blob")

	out := d.ok(t, "system", "df")
	for _, want := range []string{"TYPE", "Images", "Containers", "Local Volumes", "Build Cache"} {
		if !strings.Contains(out, want) {
			t.Fatalf("system df lacks %q:\n%s", want, out)
		}
	}
	t.Logf("docker system df:\n%s", out)
	verbose := d.ok(t, "system", "df", "-v")
	t.Logf("docker system df -v:\n%s", verbose)
	for _, want := range []string{"Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage:", "df-user", "df-vol"} {
		if !strings.Contains(verbose, want) {
			t.Fatalf("system df -v lacks %q:\n%s", want, verbose)
		}
	}
	resp, body := d.rawGET(t, "/v1.51/system/df")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /system/df: %d %s", resp.StatusCode, body)
	}
	var du struct {
		Images []struct {
			RepoTags   []string
			Size       int64
			Containers int64
		}
		Containers []struct {
			Names              []string
			SizeRw, SizeRootFs int64
		}
		Volumes []struct {
			Name      string
			UsageData struct{ Size, RefCount int64 }
		}
		BuildCache []any
	}
	if err := json.Unmarshal([]byte(body), &du); err != nil {
		t.Fatal(err)
	}
	var imageSize int64
	for _, img := range du.Images {
		for _, tag := range img.RepoTags {
			if tag == ref {
				imageSize = img.Size
				if img.Containers < 1 {
					t.Fatalf("image %s used by %d containers", ref, img.Containers)
				}
			}
		}
	}
	found := false
	for _, c := range du.Containers {
		if len(c.Names) == 1 && c.Names[0] == "/df-user" {
			found = true
			if c.SizeRw < 2000000 || c.SizeRootFs != c.SizeRw+imageSize || imageSize <= 0 {
				t.Fatalf("df-user: SizeRw %d SizeRootFs %d (image %d)", c.SizeRw, c.SizeRootFs, imageSize)
			}
		}
	}
	if !found {
		t.Fatalf("df-user not among the containers: %s", body)
	}
	found = false
	for _, v := range du.Volumes {
		if v.Name == "df-vol" {
			found = true
			if v.UsageData.Size != 300000 || v.UsageData.RefCount != 1 {
				t.Fatalf("df-vol: %+v", v.UsageData)
			}
		}
	}
	if !found || du.BuildCache == nil {
		t.Fatalf("volumes or build cache: %s", body)
	}
	// docker ps -s and docker inspect -s give the same sizes.
	var dfUser struct{ SizeRw, SizeRootFs int64 }
	for _, c := range du.Containers {
		if c.Names[0] == "/df-user" {
			dfUser.SizeRw, dfUser.SizeRootFs = c.SizeRw, c.SizeRootFs
		}
	}
	if got := strings.TrimSpace(d.ok(t, "inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "df-user")); got != strconv.FormatInt(dfUser.SizeRw, 10)+" "+strconv.FormatInt(dfUser.SizeRootFs, 10) {
		t.Fatalf("inspect -s: %q, system df: %+v", got, dfUser)
	}
	if got := d.ok(t, "ps", "-a", "-s", "--filter", "name=df-user", "--format", "{{.Size}}"); !strings.Contains(got, "(virtual ") || strings.HasPrefix(got, "0B") {
		t.Fatalf("ps -s: %q", got)
	}
	pruneAll(t, d)
}

// pruneAll runs docker system prune -a -f and checks what is left.
func pruneAll(t *testing.T, d *daemon) {
	t.Helper()
	out := d.ok(t, "system", "prune", "-a", "-f")
	t.Logf("docker system prune -a -f:\n%s", out)
	if !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "Total reclaimed space:") {
		t.Fatalf("system prune: %s", out)
	}
	if left := d.ok(t, "ps", "-aq"); strings.TrimSpace(left) != "" {
		t.Fatalf("containers left after the prune: %q", left)
	}
	if left := d.ok(t, "images", "-q"); strings.TrimSpace(left) != "" {
		t.Fatalf("images left after the prune -a: %q", left)
	}
	if left := d.ok(t, "volume", "ls", "-q"); strings.TrimSpace(left) != "df-vol" {
		t.Fatalf("a named volume stays without --volumes: %q", left)
	}
}
