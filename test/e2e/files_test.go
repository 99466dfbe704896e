package e2e

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tarNames lists the entries of a tar stream.
func tarNames(t *testing.T, data string) []string {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(data))
	var out []string
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		out = append(out, h.Name)
	}
}

// hostFile writes a file with the given mode, owner and mtime.
func hostFile(t *testing.T, dir, name, data string, mode os.FileMode, uid, gid int, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, uid, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

// docker cp into a container that was created and never started (a
// maintenance VM serves it), then start it: the file is there with its
// mode, owner and mtime. The exited container's report is copied out,
// docker diff lists what the run changed and docker export has it all.
func TestCopyIntoCreatedAndOutOfExitedContainer(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	dir := t.TempDir()
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	src := hostFile(t, dir, "hello.txt", "hello from the host\n", 0o750, 1234, 5678, mtime)

	name := "cp-created"
	d.ok(t, "create", "--name", name, "-v", name+"-vol:/data", bb, "sh", "-c",
		"cat /tmp/hello.txt; stat -c '%a %u:%g %Y' /tmp/hello.txt; cat /data/in-volume.txt; mkdir /report; echo passed > /report/result.txt; rm /etc/group")
	defer d.docker(t, "", "volume", "rm", name+"-vol")
	defer d.docker(t, "", "rm", "-f", name)
	start := time.Now()
	d.ok(t, "cp", src, name+":/tmp/hello.txt")
	t.Logf("docker cp into a created container: %v", time.Since(start).Round(time.Millisecond))
	// Into the container's volume, mounted in the maintenance VM as well.
	d.ok(t, "cp", hostFile(t, dir, "vol.txt", "in the volume\n", 0o644, 0, 0, mtime), name+":/data/in-volume.txt")

	out := d.ok(t, "start", "-a", name)
	want := "hello from the host\n750 1234:5678 " + strconv.FormatInt(mtime.Unix(), 10) + "\nin the volume\n"
	if out != want {
		t.Fatalf("the container saw %q, want %q", out, want)
	}

	// Out of the exited container: a directory to the host, a file as a tar.
	start = time.Now()
	d.ok(t, "cp", name+":/report", filepath.Join(dir, "report"))
	t.Logf("docker cp out of an exited container: %v", time.Since(start).Round(time.Millisecond))
	if b, err := os.ReadFile(filepath.Join(dir, "report/result.txt")); err != nil || string(b) != "passed\n" {
		t.Fatalf("report copied out: %q, %v", b, err)
	}
	tarOut := d.ok(t, "cp", name+":/tmp/hello.txt", "-")
	if names := tarNames(t, tarOut); len(names) != 1 || names[0] != "hello.txt" {
		t.Fatalf("docker cp to stdout: entries %q", names)
	}
	d.ok(t, "cp", name+":/tmp/hello.txt", filepath.Join(dir, "back.txt"))
	fi, err := os.Stat(filepath.Join(dir, "back.txt"))
	if err != nil || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(mtime) {
		t.Fatalf("round trip: %v %v, want 0750 %v", fi.Mode(), fi.ModTime(), mtime)
	}

	// A missing path: dockerd's error.
	_, errOut, code := d.docker(t, "", "cp", name+":/nope", filepath.Join(dir, "nope"))
	if code == 0 || !strings.Contains(errOut, "Could not find the file /nope in container "+name) {
		t.Fatalf("docker cp of a missing path: exit %d, %q", code, errOut)
	}

	diff := d.ok(t, "diff", name)
	for _, line := range []string{"A /report", "A /report/result.txt", "C /tmp", "A /tmp/hello.txt", "C /etc", "D /etc/group"} {
		if !strings.Contains("\n"+diff, "\n"+line+"\n") {
			t.Errorf("docker diff lacks %q:\n%s", line, diff)
		}
	}
	if strings.Contains(diff, "/etc/hostname") || strings.Contains(diff, "/etc/hosts") {
		t.Errorf("docker diff shows pier's own name files:\n%s", diff)
	}

	export := exec.Command("sh", "-c", "docker export "+name+" | tar t")
	export.Env = d.env
	b, err := export.CombinedOutput()
	if err != nil {
		t.Fatalf("docker export | tar t: %v\n%s", err, b)
	}
	list := "\n" + string(b)
	for _, entry := range []string{"bin/busybox", "report/result.txt", "tmp/hello.txt", "etc/passwd"} {
		if !strings.Contains(list, "\n"+entry+"\n") {
			t.Errorf("docker export lacks %s", entry)
		}
	}
	for _, gone := range []string{"etc/group", "proc/self"} {
		if strings.Contains(list, "\n"+gone) {
			t.Errorf("docker export has %s", gone)
		}
	}
}

// docker cp in and out of a running container, through its own VM; paths
// with ".." and symbolic links that climb out stay inside the container.
func TestCopyRunningContainerStaysInside(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	dir := t.TempDir()
	src := hostFile(t, dir, "in.txt", "into the running one\n", 0o644, 0, 0, time.Now())

	name := "cp-running"
	d.ok(t, "run", "-d", "--name", name, bb, "sh", "-c", "ln -s ../../../../../.. /tmp/up; ln -s / /tmp/root; ln -s /etc/passwd /tmp/pw; echo live > /tmp/live; touch /tmp/ready; exec sleep 1000")
	defer d.docker(t, "", "rm", "-f", name)
	for i := 0; ; i++ {
		if _, _, code := d.docker(t, "", "exec", name, "test", "-e", "/tmp/ready"); code == 0 {
			break
		}
		if i == 100 {
			t.Fatal("the container did not get ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	hostname := strings.TrimSpace(d.ok(t, "exec", name, "hostname"))

	d.ok(t, "cp", src, name+":/tmp/")
	if out := d.ok(t, "exec", name, "cat", "/tmp/in.txt"); out != "into the running one\n" {
		t.Fatalf("copied into the running container: %q", out)
	}
	if names := tarNames(t, d.ok(t, "cp", name+":/tmp/live", "-")); len(names) != 1 || names[0] != "live" {
		t.Fatalf("copied out of the running container: %q", names)
	}

	// Into a path through a link to "../../.." and with "..": the file
	// lands in the container's root, never the host's.
	marker := "pier-escape-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	d.ok(t, "cp", src, name+":/tmp/up/"+marker)
	d.ok(t, "cp", src, name+":/../../../tmp/../"+marker+"-dotdot")
	for _, m := range []string{marker, marker + "-dotdot"} {
		if _, err := os.Stat("/" + m); err == nil {
			os.Remove("/" + m)
			t.Fatalf("docker cp wrote /%s on the host", m)
		}
		if out := d.ok(t, "exec", name, "cat", "/"+m); out != "into the running one\n" {
			t.Fatalf("/%s in the container: %q", m, out)
		}
	}
	// Out of a path through such links: the container's /etc/hostname.
	for _, p := range []string{"/tmp/up/etc/hostname", "/../../etc/hostname", "/tmp/root/etc/hostname"} {
		d.ok(t, "cp", name+":"+p, filepath.Join(dir, "hostname"))
		b, err := os.ReadFile(filepath.Join(dir, "hostname"))
		if err != nil || strings.TrimSpace(string(b)) != hostname {
			t.Fatalf("docker cp %s: %q, %v (want the container's hostname %q)", p, b, err, hostname)
		}
		os.Remove(filepath.Join(dir, "hostname"))
	}
	// docker cp -L follows a link (its target comes from the stat header).
	d.ok(t, "cp", "-L", name+":/tmp/pw", filepath.Join(dir, "pw"))
	if b, err := os.ReadFile(filepath.Join(dir, "pw")); err != nil || !strings.HasPrefix(string(b), "root:x:0:0:") {
		t.Fatalf("docker cp -L of a link to /etc/passwd: %q, %v", b, err)
	}

	// docker export of the running container: its root without /proc's
	// or /sys's content.
	export := exec.Command("sh", "-c", "docker export "+name+" | tar t")
	export.Env = d.env
	b, err := export.CombinedOutput()
	if err != nil {
		t.Fatalf("docker export | tar t: %v\n%s", err, b)
	}
	list := "\n" + string(b)
	if !strings.Contains(list, "\ntmp/in.txt\n") || !strings.Contains(list, "\nproc/\n") || strings.Contains(list, "\nproc/self") || strings.Contains(list, "\nsys/kernel") {
		t.Fatalf("docker export of a running container:\n%s", tail(string(b), 40))
	}

	diff := d.ok(t, "diff", name)
	if !strings.Contains(diff, "A /tmp/in.txt\n") || !strings.Contains(diff, "A /"+marker+"\n") {
		t.Fatalf("docker diff of the running container:\n%s", diff)
	}
}
