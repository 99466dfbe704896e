package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Bind mounts (a directory read-write and read-only, one file), a named
// volume filled from the image on first use and kept across containers,
// a tmpfs; the volume commands; a unix socket refused clearly.
func TestVolumesAndBindMounts(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "in.txt"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	single := filepath.Join(t.TempDir(), "single.conf")
	if err := os.WriteFile(single, []byte("one-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	d.ok(t, "volume", "create", "--label", "pier.test=vol", "etcvol")
	defer d.docker(t, "", "volume", "rm", "-f", "etcvol")
	script := "cat /h/in.txt /conf/single.conf; echo from-vm > /h/out.txt; " +
		"touch /ro/x 2>/dev/null || echo ro-refused; ls /etc/passwd; echo kept > /etc/kept.txt; " +
		"grep -q ' /scratch tmpfs ' /proc/mounts && echo tmpfs-ok; grep -Eq ' /anon (9p|virtiofs) ' /proc/mounts && echo anon-ok"
	out := d.ok(t, "run", "--name", "vols", "-v", host+":/h", "-v", host+":/ro:ro", "-v", single+":/conf/single.conf:ro",
		"-v", "etcvol:/etc", "--mount", "type=tmpfs,dst=/scratch", "-v", "/anon", bb, "sh", "-c", script)
	defer d.docker(t, "", "rm", "-f", "vols")
	if out != "from-host\none-file\nro-refused\n/etc/passwd\ntmpfs-ok\nanon-ok\n" {
		t.Fatalf("mounts in the container: %q", out)
	}
	if b, err := os.ReadFile(filepath.Join(host, "out.txt")); err != nil || string(b) != "from-vm\n" {
		t.Fatalf("write through the bind mount: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(host, "x")); err == nil {
		t.Fatal("a read-only bind mount was written")
	}
	mounts := d.ok(t, "inspect", "-f", "{{range .Mounts}}{{.Type}}:{{.Destination}}:{{.RW}} {{end}}", "vols")
	for _, want := range []string{"bind:/h:true", "bind:/ro:false", "bind:/conf/single.conf:false", "volume:/etc:true", "tmpfs:/scratch:true", "volume:/anon:true"} {
		if !strings.Contains(mounts, want) {
			t.Fatalf("inspect Mounts %q lacks %s", mounts, want)
		}
	}

	// The volume keeps what the first container wrote (and what it copied
	// from the image).
	if out := d.ok(t, "run", "--rm", "-v", "etcvol:/data", bb, "cat", "/data/kept.txt", "/data/passwd"); !strings.HasPrefix(out, "kept\nroot:") {
		t.Fatalf("volume in a second container: %q", out)
	}
	if out := d.ok(t, "volume", "ls", "--filter", "label=pier.test=vol", "--format", "{{.Name}} {{.Driver}}"); out != "etcvol local\n" {
		t.Fatalf("volume ls: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "volume", "rm", "etcvol"); code == 0 || !strings.Contains(errOut, "volume is in use") {
		t.Fatalf("volume rm while used: exit %d, %s", code, errOut)
	}
	anon := strings.TrimSpace(d.ok(t, "inspect", "-f", `{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}`, "vols"))
	d.ok(t, "rm", "-v", "vols")
	d.ok(t, "volume", "rm", "etcvol")
	if _, _, code := d.docker(t, "", "volume", "inspect", anon); code == 0 {
		t.Fatalf("anonymous volume %q left after rm -v", anon)
	}

}

// The daemon's own socket, forwarded into the VM connection by connection:
// a static docker CLI inside a container talks to pierd (what
// Testcontainers' Ryuk and docker-outside-of-docker setups do).
func TestForwardedDockerSocket(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	cli, err := exec.LookPath("docker")
	if err != nil || !staticELF(cli) {
		t.Skipf("no static docker CLI to put in the container (%q: %v)", cli, err)
	}
	out := d.ok(t, "run", "--rm", "-v", cli+":/usr/local/bin/docker:ro", "-v", d.sock+":/var/run/docker.sock", bb,
		"docker", "version", "--format", "{{.Server.Os}}")
	if out != "linux\n" {
		t.Fatalf("docker CLI in a container through the forwarded socket: %q", out)
	}
	if _, errOut, code := d.docker(t, "", "create", "-v", d.sock+":/var/run/docker.sock:ro", bb, "true"); code == 0 || !strings.Contains(errOut, "cannot be read-only") {
		t.Fatalf("read-only socket: exit %d, %s", code, errOut)
	}
}

// staticELF says whether path is an ELF executable without an interpreter.
func staticELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// --volumes-from, and dockerd's backup recipe with it: a data container's
// anonymous volume written by one container and copied out to the host
// by another that mounts it read-only; the volume goes with `rm -v` of
// the data container once no other container uses it.
func TestVolumesFrom(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	backup := t.TempDir()
	d.ok(t, "create", "--name", "vf-data", "-v", "/data", bb, "true")
	defer d.docker(t, "", "rm", "-f", "-v", "vf-data")
	d.ok(t, "run", "--rm", "--volumes-from", "vf-data", bb, "sh", "-c", "echo kept > /data/f")
	out, errOut, code := d.docker(t, "", "run", "--rm", "--volumes-from", "vf-data:ro", "-v", backup+":/backup", bb,
		"sh", "-c", "tar -cf /backup/data.tar /data && cat /data/f && touch /data/g")
	if code == 0 || out != "kept\n" || !strings.Contains(errOut, "Read-only file system") {
		t.Fatalf("the read-only --volumes-from container: code %d, out %q, err %q", code, out, errOut)
	}
	list, _, _ := d.docker(t, "", "run", "--rm", "-v", backup+":/backup", bb, "tar", "-tf", "/backup/data.tar")
	if !strings.Contains(list, "data/f") {
		t.Fatalf("the backup holds: %q", list)
	}
	vol := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "vf-data"))
	if vol == "" {
		t.Fatal("vf-data has no volume")
	}
	d.ok(t, "create", "--name", "vf-user", "--volumes-from", "vf-data:ro", bb, "true")
	if out := d.ok(t, "inspect", "-f", "{{json .HostConfig.VolumesFrom}} {{range .Mounts}}{{.Name}} {{.RW}}{{end}}", "vf-user"); out != `["vf-data:ro"] `+vol+" false\n" {
		t.Fatalf("inspect of vf-user: %q", out)
	}
	d.ok(t, "rm", "-v", "vf-user")
	d.ok(t, "volume", "inspect", vol)
	d.ok(t, "rm", "-v", "vf-data")
	if _, _, code := d.docker(t, "", "volume", "inspect", vol); code == 0 {
		t.Fatalf("volume %s outlived rm -v of its container", vol)
	}
	if _, errOut, code := d.docker(t, "", "create", "--volumes-from", "vf-nosuch", bb, "true"); code == 0 || !strings.Contains(errOut, "No such container: vf-nosuch") {
		t.Fatalf("--volumes-from a missing container: %d %s", code, errOut)
	}
}
