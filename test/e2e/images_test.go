package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pier-vm/pier/internal/testimages"
	"github.com/pier-vm/pier/internal/testregistry"
)

func TestVersionAndInfo(t *testing.T) {
	d := sharedDaemon(t)
	out := d.ok(t, "version", "--format", "{{.Server.APIVersion}} {{.Server.Os}}")
	if strings.TrimSpace(out) != "1.51 linux" {
		t.Fatalf("version: %q", out)
	}
	out = d.ok(t, "info", "--format", "{{.OSType}} {{.Driver}} {{.Swarm.LocalNodeState}} {{json .Labels}}")
	if !strings.HasPrefix(out, "linux pier-ext4 inactive") || !strings.Contains(out, "pier.accel=tcg") || !strings.Contains(out, "pier.emulates=linux/arm64/v8=qemu-user") {
		t.Fatalf("info: %q", out)
	}
}

func TestPullByPlatformThenTheOtherKeepsBoth(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.Busybox, testimages.DockerList)
	d.ok(t, "pull", "--platform", "linux/arm64", ref)
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}/{{.Variant}}", ref); strings.TrimSpace(got) != "arm64/v8" {
		t.Fatalf("after the arm64 pull: %q", got)
	}
	armID := strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{.Id}}", ref))
	d.ok(t, "pull", "--platform", "linux/amd64", ref)
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", ref); strings.TrimSpace(got) != "amd64" {
		t.Fatalf("after the amd64 pull: %q", got)
	}
	if got := d.ok(t, "image", "inspect", "-f", "{{.Architecture}}", armID); strings.TrimSpace(got) != "arm64" {
		t.Fatalf("the arm64 image left the store: %q", got)
	}
	if out := d.ok(t, "images", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, "pier-test/busybox:dockerlist") {
		t.Fatalf("docker images: %q", out)
	}
}

func TestTagRmiSaveLoad(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.App, testimages.Latest)
	d.ok(t, "pull", ref)
	d.ok(t, "tag", ref, "mine/app:v1")
	if out := d.ok(t, "image", "inspect", "-f", "{{.Config.User}} {{.Config.Entrypoint}} {{index .Config.Labels \"org.pier.test\"}}", "mine/app:v1"); strings.TrimSpace(out) != "app [/bin/echo entry] yes" {
		t.Fatalf("inspect: %q", out)
	}
	tarball := filepath.Join(t.TempDir(), "app.tar")
	d.ok(t, "save", "-o", tarball, "mine/app:v1")
	if out := d.ok(t, "rmi", "mine/app:v1"); !strings.Contains(out, "Untagged: mine/app:v1") {
		t.Fatalf("rmi: %q", out)
	}
	if _, _, code := d.docker(t, "", "image", "inspect", "mine/app:v1"); code == 0 {
		t.Fatal("the tag is still there after rmi")
	}
	if out := d.ok(t, "load", "-i", tarball); !strings.Contains(out, "Loaded image: mine/app:v1") {
		t.Fatalf("load: %q", out)
	}
	d.ok(t, "rmi", "mine/app:v1")
	pipe := exec.Command("sh", "-c", "docker save mine/app:v1 | docker load")
	pipe.Env = d.env
	if out, _ := pipe.CombinedOutput(); !strings.Contains(string(out), "No such image: mine/app:v1") {
		t.Fatalf("save of a removed image: %q", out)
	}
	d.ok(t, "load", "-i", tarball)
	pipe = exec.Command("bash", "-c", "set -o pipefail; docker save mine/app:v1 | docker load")
	pipe.Env = d.env
	if out, err := pipe.CombinedOutput(); err != nil || !strings.Contains(string(out), "Loaded image: mine/app:v1") {
		t.Fatalf("docker save | docker load: %v %q", err, out)
	}
	if out := d.ok(t, "run", "--rm", "mine/app:v1"); strings.TrimSpace(out) != "entry cmd" {
		t.Fatalf("run of the loaded image: %q", out)
	}
}

func TestBadInputsGetDockerShapedErrors(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.Busybox, testimages.Latest)
	faulty, err := testregistry.Serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer faulty.Close()
	if err := faulty.Push(testimages.Require(t)); err != nil {
		t.Fatal(err)
	}
	faulty.TruncateBlobs(testimages.Layers)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"pull", "--platform", "windows/amd64", ref}, "supported platforms"},
		{[]string{"pull", "--platform", "linux/riscv64", ref}, "supported platforms"},
		{[]string{"pull", "--platform", "linux//", ref}, "supported platforms"},
		{[]string{"pull", "Not/Valid"}, "invalid reference format"},
		{[]string{"pull", reg.Host + "/pier-test/nope"}, "repository does not exist"},
		{[]string{"pull", reg.Ref(testimages.Busybox, "nope")}, "not found"},
		{[]string{"pull", testregistry.DownAddr(t) + "/x/y"}, "connection refused"},
		{[]string{"pull", faulty.Ref(testimages.Layers, testimages.Latest)}, ""},
		{[]string{"inspect", "no-such-thing"}, "No such object"},
		{[]string{"rm", "no-such-container"}, "No such container: no-such-container"},
	}
	for _, tc := range cases {
		_, errOut, code := d.docker(t, "", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("docker %s: exit %d, stderr %q, want %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
	if _, _, code := d.docker(t, "", "image", "inspect", faulty.Ref(testimages.Layers, testimages.Latest)); code == 0 {
		t.Error("an image with a truncated layer was recorded")
	}
	entries, _ := os.ReadDir(filepath.Join(d.dataDir, "image", "blobs", "sha256"))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("temp blob left behind: %s", e.Name())
		}
	}
}

func TestSocketModeAndSecondDaemonAndVersionTooNew(t *testing.T) {
	d := sharedDaemon(t)
	fi, err := os.Stat(d.sock)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode %v (%v)", fi.Mode().Perm(), err)
	}
	resp, body := d.rawGET(t, "/v1.99/version")
	if resp.StatusCode != 400 || !strings.Contains(body, "client version 1.99 is too new. Maximum supported API version is 1.51") {
		t.Fatalf("too new: %d %s", resp.StatusCode, body)
	}
	resp, body = d.rawGET(t, "/_ping")
	if resp.StatusCode != 200 || body != "OK" || resp.Header.Get("Api-Version") != "1.51" || resp.Header.Get("Ostype") != "linux" || !strings.HasPrefix(resp.Header.Get("Server"), "pier/") {
		t.Fatalf("ping: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	second := exec_(t, pierdBin, "-H", "unix://"+d.sock, "--data-root", t.TempDir(), "--guest-dir", guestDir, "--accel", "tcg")
	if second.code == 0 || !strings.Contains(second.out, "already") {
		t.Fatalf("second daemon on the same socket: exit %d, output %q", second.code, second.out)
	}
}

func TestImagesFiltersAndPrune(t *testing.T) {
	d := sharedDaemon(t)
	ref := reg.Ref(testimages.App, testimages.Latest)
	d.ok(t, "pull", "-q", ref)
	d.ok(t, "tag", ref, "filt/app:1")
	if out := d.ok(t, "images", "--filter", "reference=filt/*", "--format", "{{.Repository}}:{{.Tag}}"); out != "filt/app:1\n" {
		t.Fatalf("images --filter reference: %q", out)
	}
	if out := d.ok(t, "images", "-q", "--filter", "label=org.pier.test=yes", "--filter", "reference=filt/app"); strings.TrimSpace(out) == "" {
		t.Fatal("images --filter label: nothing listed")
	}
	if _, errOut, code := d.docker(t, "", "images", "--filter", "dangling=maybe"); code == 0 || !strings.Contains(errOut, "invalid filter 'dangling=maybe'") {
		t.Fatalf("bad dangling filter: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker(t, "", "images", "--filter", "color=red"); code == 0 || !strings.Contains(errOut, "color") {
		t.Fatalf("unknown filter: exit %d, %q", code, errOut)
	}
	d.ok(t, "image", "prune", "-f")
	if out := d.ok(t, "images", "-q", "filt/app:1"); strings.TrimSpace(out) == "" {
		t.Fatal("prune removed a tagged image")
	}
	d.ok(t, "rmi", "filt/app:1")
	d.ok(t, "create", "--name", "image-user", ref)
	defer d.docker(t, "", "rm", "-f", "image-user")
	if _, errOut, code := d.docker(t, "", "rmi", ref); code == 0 || !strings.Contains(errOut, "is using its referenced image") {
		t.Fatalf("rmi of an image a container uses: exit %d, %q", code, errOut)
	}
	d.ok(t, "image", "prune", "-a", "-f")
	d.ok(t, "image", "inspect", ref)
}
