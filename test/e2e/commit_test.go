package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docker commit of a running container (its file system frozen while its
// layer is read) and of a stopped one (through a maintenance VM): the new
// image runs with the file the container wrote, without the file it
// deleted, and carries the config changes, author and comment. A missing
// container and a bad change get dockerd's errors.
func TestCommit(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	name := "commit-src"
	d.ok(t, "run", "-d", "--name", name, bb, "sh", "-c",
		"echo hello > /hello; rm /etc/group; mkdir -p /var/empty-dir; echo ready; while true; do sleep 1; done")
	defer d.docker(t, "", "rm", "-f", name)
	defer d.docker(t, "", "rmi", "newimg:1", "stopped:1")
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.ok(t, "logs", name), "ready") {
		if time.Now().After(deadline) {
			t.Fatal("the container never got ready")
		}
		time.Sleep(200 * time.Millisecond)
	}

	start := time.Now()
	id := strings.TrimSpace(d.ok(t, "commit", "-c", `CMD ["cat","/hello"]`, "-c", "ENV X=1", "-m", "msg", "-a", "me", name, "newimg:1"))
	t.Logf("docker commit of a running container: %v", time.Since(start).Round(time.Millisecond))
	if !strings.HasPrefix(id, "sha256:") {
		t.Fatalf("docker commit printed %q, want an image ID", id)
	}
	// The writable file system was thawed: the container writes again.
	if out, errOut, code := d.docker(t, "", "exec", name, "sh", "-c", "echo after > /after && cat /after"); code != 0 || out != "after\n" {
		t.Fatalf("a write after the commit: exit %d, %q %q", code, out, errOut)
	}
	if got := d.ok(t, "run", "--rm", "newimg:1"); got != "hello\n" {
		t.Fatalf("docker run newimg:1 = %q, want the committed file", got)
	}
	if got := d.ok(t, "run", "--rm", "newimg:1", "sh", "-c", "test -e /etc/group && echo present || echo gone; test -d /var/empty-dir && echo dir; echo $X"); got != "gone\ndir\n1\n" {
		t.Fatalf("the committed image's files and env: %q", got)
	}
	inspect := d.ok(t, "image", "inspect", "-f", "{{.ID}}|{{json .Config.Cmd}}|{{json .Config.Env}}|{{.Author}}|{{.Comment}}|{{len .RootFS.Layers}}", "newimg:1")
	var parentEnv []string
	if err := json.Unmarshal([]byte(d.ok(t, "image", "inspect", "-f", "{{json .Config.Env}}", bb)), &parentEnv); err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(append(parentEnv, "X=1"))
	parentLayers, _ := strconv.Atoi(strings.TrimSpace(d.ok(t, "image", "inspect", "-f", "{{len .RootFS.Layers}}", bb)))
	want := id + `|["cat","/hello"]|` + string(env) + "|me|msg|" + strconv.Itoa(parentLayers+1) + "\n"
	if inspect != want {
		t.Fatalf("image inspect = %q, want %q", inspect, want)
	}
	history := d.ok(t, "history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Comment}}", "newimg:1")
	if first := strings.SplitN(history, "\n", 2)[0]; !strings.HasPrefix(first, "sh -c echo hello") || !strings.HasSuffix(first, "|msg") {
		t.Fatalf("docker history's newest entry = %q", first)
	}

	// A stopped container: its layer through a maintenance VM.
	d.ok(t, "kill", name)
	d.ok(t, "wait", name)
	start = time.Now()
	d.ok(t, "commit", name, "stopped:1")
	t.Logf("docker commit of a stopped container: %v", time.Since(start).Round(time.Millisecond))
	if got := d.ok(t, "run", "--rm", "stopped:1", "cat", "/hello"); got != "hello\n" {
		t.Fatalf("docker run stopped:1 cat /hello = %q", got)
	}

	// dockerd's errors.
	if _, errOut, code := d.docker(t, "", "commit", "commit-nope", "x:1"); code == 0 || !strings.Contains(errOut, "No such container: commit-nope") {
		t.Fatalf("commit of a missing container: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker(t, "", "commit", "-c", "FOO bar", name, "x:1"); code == 0 || !strings.Contains(errOut, "FOO is not a valid change command") {
		t.Fatalf("commit with a bad change: exit %d, %q", code, errOut)
	}
}
