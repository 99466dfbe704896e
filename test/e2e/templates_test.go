package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// vmStarts reads docker info's pier.vm-starts label ("cloned=N,cold=N,
// fallbacks=N") into a map.
func vmStarts(t *testing.T, d *daemon) map[string]int {
	t.Helper()
	out := d.ok(t, "info", "--format", "{{range .Labels}}{{println .}}{{end}}")
	got := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		v, ok := strings.CutPrefix(l, "pier.vm-starts=")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			k, n, _ := strings.Cut(kv, "=")
			got[k], _ = strconv.Atoi(n)
		}
	}
	if len(got) == 0 {
		t.Fatalf("no pier.vm-starts label in docker info:\n%s", out)
	}
	return got
}

// Two containers cloned from one template are two machines: their random
// streams, clocks (within 2 s of the host), hostnames, MACs and addresses
// are their own.
func TestClonesAreTheirOwnMachines(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	before := vmStarts(t, d)
	const probe = `head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n'; echo; date +%s; hostname; cat /sys/class/net/eth0/address; ip -4 -o addr show eth0 | awk '{print $4}'`
	type machine struct{ random, clock, hostname, mac, addr string }
	var got []machine
	// Both at once, so that neither reuses the other's address and MAC.
	for i := range 2 {
		name := "clone-" + strconv.Itoa(i)
		before := time.Now().Unix()
		d.ok(t, "run", "-d", "--name", name, "--hostname", name, bb, "sh", "-c", "("+probe+") > /tmp/probe; exec sleep 600")
		defer d.docker(t, "", "rm", "-f", name)
		var out string
		for range 50 {
			out, _, _ = d.docker(t, "", "exec", name, "cat", "/tmp/probe")
			if strings.Count(out, "\n") == 5 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		f := strings.Split(strings.TrimSpace(out), "\n")
		if len(f) != 5 {
			t.Fatalf("probe output: %q", out)
		}
		after := time.Now().Unix()
		m := machine{f[0], f[1], f[2], f[3], f[4]}
		// The guest read its clock between the run and the probe's read.
		clock, err := strconv.ParseInt(m.clock, 10, 64)
		if err != nil || clock < before-2 || clock > after+2 {
			t.Errorf("%s: guest clock %q, host between %d and %d: more than 2 s off", name, m.clock, before, after)
		}
		if m.hostname != name {
			t.Errorf("hostname %q, want %q", m.hostname, name)
		}
		if len(m.random) != 32 {
			t.Errorf("random bytes %q", m.random)
		}
		if want := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.NetworkSettings.MacAddress}} {{.NetworkSettings.IPAddress}}/{{.NetworkSettings.IPPrefixLen}}", name)); m.mac+" "+m.addr != want {
			t.Errorf("%s: guest MAC and address %q, inspect says %q", name, m.mac+" "+m.addr, want)
		}
		got = append(got, m)
	}
	if got[0].random == got[1].random {
		t.Errorf("two clones read the same 16 bytes from /dev/urandom: %s", got[0].random)
	}
	if got[0].mac == got[1].mac || got[0].mac == "02:50:00:00:00:00" {
		t.Errorf("MACs %q and %q: want each container's own, not the template's", got[0].mac, got[1].mac)
	}
	for _, m := range got {
		if !strings.HasPrefix(m.mac, "02:42:ac:11:") || !strings.HasPrefix(m.addr, "172.17.") {
			t.Errorf("MAC %q address %q: want the bridge network's", m.mac, m.addr)
		}
	}
	after := vmStarts(t, d)
	if after["cloned"] < before["cloned"]+2 {
		t.Errorf("VM starts before %v, after %v: the two runs were not clones", before, after)
	}
}

// A template whose saved state is damaged (truncated, as by a full disk)
// is dropped and the container boots cold: the run succeeds, docker info
// counts a fallback, and the daemon stops with no VM left behind.
func TestDamagedTemplateFallsBackToAColdBoot(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t)
	defer d.stop(t)
	bb := busybox(t, d)
	if out := d.ok(t, "run", "--rm", bb, "echo", "first"); out != "first\n" {
		t.Fatalf("first run: %q", out)
	}
	states, _ := filepath.Glob(filepath.Join(d.dataDir, "templates", "*", "state"))
	if len(states) != 1 {
		t.Fatalf("template state files: %v", states)
	}
	if err := os.Truncate(states[0], 100); err != nil {
		t.Fatal(err)
	}
	if out := d.ok(t, "run", "--rm", bb, "echo", "second"); out != "second\n" {
		t.Fatalf("run with a damaged template: %q", out)
	}
	if s := vmStarts(t, d); s["fallbacks"] != 1 || s["cloned"] != 1 {
		t.Errorf("vm starts %v: want one clone, then one fallback", s)
	}
	if _, err := os.Stat(filepath.Dir(states[0])); !os.IsNotExist(err) {
		t.Errorf("damaged template still there (%v)", err)
	}
}

// qemuCmdline is the command line of the QEMU process that runs a
// container (its State.Pid).
func qemuCmdline(t *testing.T, d *daemon, name string) string {
	t.Helper()
	pid := strings.TrimSpace(d.ok(t, "inspect", "-f", "{{.State.Pid}}", name))
	b, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// Containers with bind mounts and volumes start as clones of a template
// whose share slots (9p) are pointed at each clone's own directories:
// two clones at once each see their own host directory, writes reach the
// host with the guest's owner, the host's later writes are seen at once,
// a read-only mount refuses writes; more shares than a template has
// slots boot cold and work the same.
func TestContainersWithSharesAreClones(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	dirs := []string{t.TempDir(), t.TempDir()}
	for i, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, "x"), []byte("dir"+strconv.Itoa(i)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, "open"), 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, "open"), 0o777)
	}
	d.ok(t, "volume", "create", "sharesvol")
	defer d.docker(t, "", "volume", "rm", "-f", "sharesvol")
	d.ok(t, "run", "-d", "--name", "shares-0", "-v", dirs[0]+":/d", "-v", "sharesvol:/v", bb, "sleep", "600")
	defer d.docker(t, "", "rm", "-f", "shares-0")
	d.ok(t, "run", "-d", "--name", "shares-1", "-v", dirs[1]+":/d:ro", bb, "sleep", "600")
	defer d.docker(t, "", "rm", "-f", "shares-1")
	for i, name := range []string{"shares-0", "shares-1"} {
		if c := qemuCmdline(t, d, name); !strings.Contains(c, "-incoming") || !strings.Contains(c, "virtio-9p-device") {
			t.Errorf("%s is not a clone with 9p shares: %s", name, c)
		}
		if out := d.ok(t, "exec", name, "cat", "/d/x"); out != "dir"+strconv.Itoa(i)+"\n" {
			t.Errorf("%s reads %q from its bind mount, want its own directory's", name, out)
		}
	}
	d.ok(t, "exec", "shares-0", "sh", "-c", "echo w > /d/new && echo v > /v/f")
	if b, err := os.ReadFile(filepath.Join(dirs[0], "new")); err != nil || string(b) != "w\n" {
		t.Errorf("the guest's write reached the host as %q (%v)", b, err)
	}
	if _, err := os.Stat(filepath.Join(dirs[1], "new")); err == nil {
		t.Error("one clone's write reached the other clone's directory")
	}
	d.ok(t, "exec", "-u", "1000:1000", "shares-0", "sh", "-c", "echo u > /d/open/u")
	if fi, err := os.Stat(filepath.Join(dirs[0], "open", "u")); err != nil {
		t.Error(err)
	} else if st := fi.Sys().(*syscall.Stat_t); st.Uid != 1000 || st.Gid != 1000 {
		t.Errorf("a file made by uid 1000 is owned by %d:%d on the host", st.Uid, st.Gid)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "late"), []byte("late\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := d.ok(t, "exec", "shares-0", "cat", "/d/late"); out != "late\n" {
		t.Errorf("the host's later write reads %q in the guest", out)
	}
	if _, stderr, code := d.docker(t, "", "exec", "shares-1", "sh", "-c", "echo no > /d/no"); code == 0 || !strings.Contains(stderr, "Read-only file system") {
		t.Errorf("write to a read-only bind mount: exit %d, stderr %q", code, stderr)
	}
	if out := d.ok(t, "run", "--rm", "-v", "sharesvol:/v", bb, "cat", "/v/f"); out != "v\n" {
		t.Errorf("the volume holds %q, want what the first container wrote", out)
	}

	// Five shares, one more than a template's slots: a cold boot.
	args := []string{"run", "-d", "--name", "shares-5"}
	for i := range 5 {
		args = append(args, "-v", dirs[0]+":/m"+strconv.Itoa(i))
	}
	d.ok(t, append(args, bb, "sleep", "600")...)
	defer d.docker(t, "", "rm", "-f", "shares-5")
	if c := qemuCmdline(t, d, "shares-5"); strings.Contains(c, "-incoming") {
		t.Errorf("a container with 5 shares was cloned: %s", c)
	}
	if out := d.ok(t, "exec", "shares-5", "cat", "/m4/x", "/m0/new"); out != "dir0\nw\n" {
		t.Errorf("the cold VM's shares read %q", out)
	}
}
