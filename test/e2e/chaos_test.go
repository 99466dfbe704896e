package e2e

import (
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pierd killed with SIGKILL at random moments of pulls, creates, starts,
// removes and network and volume creates, and started again each time:
// afterwards every container, image, network and volume listed can be
// inspected, no temporary file is left in the data root, no VM process
// runs without its daemon, and every container can still be started and
// removed.
func TestKillNineAtRandomMomentsLosesNothing(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t)
	defer d.stop(t)
	killNineAtRandomMoments(t, d, false)
}

// The same with live restore: the VMs of running containers outlive each
// SIGKILL and are adopted, so a VM process is ownerless when no container
// that pierd reports running is its, and a network helper when its network
// no longer exists.
func TestKillNineWithLiveRestoreLosesNothing(t *testing.T) {
	sharedDaemon(t) // the registry
	d := startDaemon(t, "--live-restore")
	defer d.stop(t)
	killNineAtRandomMoments(t, d, true)
}

func killNineAtRandomMoments(t *testing.T, d *daemon, liveRestore bool) {
	bb := busybox(t, d)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	t.Logf("seed %d", seed)

	ops := []struct {
		name string
		run  func(i int) []string
	}{
		{"pull", func(i int) []string { return []string{"pull", "-q", bb} }},
		{"create", func(i int) []string { return []string{"create", "--name", "c" + strconv.Itoa(i), bb, "true"} }},
		{"run", func(i int) []string { return []string{"run", "-d", "--name", "r" + strconv.Itoa(i), bb, "sleep", "60"} }},
		{"rm", func(i int) []string { return []string{"rm", "-f", "c" + strconv.Itoa(i-1), "r" + strconv.Itoa(i-1)} }},
		{"network", func(i int) []string { return []string{"network", "create", "n" + strconv.Itoa(i)} }},
		{"volume", func(i int) []string { return []string{"volume", "create", "v" + strconv.Itoa(i)} }},
	}
	const kills = 20
	for i := 1; i <= kills; i++ {
		op := ops[rng.Intn(len(ops))]
		args := op.run(i)
		done := make(chan struct{})
		go func() {
			defer close(done)
			d.docker(t, "", args...) // may fail: the daemon dies under it
		}()
		time.Sleep(time.Duration(rng.Intn(400)) * time.Millisecond)
		daemonArgs := d.cmd.Args[1:]
		d.cmd.Process.Kill()
		d.cmd.Wait()
		<-done
		building, _ := filepath.Glob(filepath.Join(d.dataDir, "templates", ".new-*"))
		d.launch(t, daemonArgs)
		checkConsistent(t, d, "after kill "+strconv.Itoa(i)+" during "+op.name, building, liveRestore)
		if t.Failed() {
			return
		}
	}
	// Every container left can start and be removed.
	for _, id := range strings.Fields(d.ok(t, "ps", "-aq")) {
		d.ok(t, "start", id)
		d.ok(t, "rm", "-f", id)
	}
}

// checkConsistent inspects everything pierd lists and looks for leftovers;
// oldBuilds are the template builds the killed daemon had under way (the
// new daemon may be making its own).
func checkConsistent(t *testing.T, d *daemon, when string, oldBuilds []string, liveRestore bool) {
	t.Helper()
	for _, kind := range [][2]string{{"ps", "-aq"}, {"images", "-q"}, {"network", "ls -q"}, {"volume", "ls -q"}} {
		args := append([]string{kind[0]}, strings.Fields(kind[1])...)
		ids := strings.Fields(d.ok(t, args...))
		inspect := []string{"inspect"}
		switch kind[0] {
		case "network", "volume":
			inspect = []string{kind[0], "inspect"}
		}
		for _, id := range ids {
			if _, errOut, code := d.docker(t, "", append(inspect, id)...); code != 0 {
				t.Errorf("%s: %s %s listed but not inspectable: %s", when, kind[0], id, errOut)
			}
		}
	}
	var leftovers []string
	filepath.WalkDir(d.dataDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		name := e.Name()
		if strings.HasPrefix(name, ".new-") {
			return fs.SkipDir // checked below
		}
		if strings.HasPrefix(name, ".tmp-") || strings.HasPrefix(name, ".load-") || strings.Contains(name, ".tmp-") || strings.HasSuffix(name, ".part") {
			leftovers = append(leftovers, strings.TrimPrefix(path, d.dataDir))
		}
		return nil
	})
	for _, b := range oldBuilds {
		if _, err := os.Stat(b); err == nil {
			leftovers = append(leftovers, strings.TrimPrefix(b, d.dataDir))
		}
	}
	if len(leftovers) > 0 {
		t.Errorf("%s: temporary files left: %v", when, leftovers)
	}
	left := ownerlessVMs(d)
	if liveRestore {
		left = notAdopted(t, d, left)
	}
	if len(left) > 0 {
		t.Errorf("%s: VM processes from the killed daemon still run: %v", when, left)
	}
}

// notAdopted keeps the VM processes of pids that serve no container pierd
// reports running (a VM of containers/<id>/vm is adopted when <id> runs),
// and adds every network helper whose network is gone.
func notAdopted(t *testing.T, d *daemon, pids []int) []int {
	t.Helper()
	up := map[string]bool{}
	for _, id := range strings.Fields(d.ok(t, "ps", "-q", "--no-trunc")) {
		up[id] = true
	}
	var out []int
	for _, pid := range pids {
		cwd, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		if filepath.Base(cwd) != "vm" || !up[filepath.Base(filepath.Dir(cwd))] {
			out = append(out, pid)
		}
	}
	nets := map[string]bool{}
	for _, id := range strings.Fields(d.ok(t, "network", "ls", "-q", "--no-trunc")) {
		nets[id] = true
	}
	for _, pid := range netHelpers(d.dataDir) {
		raw, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		args := strings.Split(string(raw), "\x00")
		if i := slices.Index(args, "--dir"); i >= 0 && i+1 < len(args) && running(pid) && !nets[filepath.Base(args[i+1])] {
			out = append(out, pid)
		}
	}
	return out
}

// ownerlessVMs lists QEMU and virtiofsd processes working in d's data
// root whose parent is not d's pierd.
func ownerlessVMs(d *daemon) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || !strings.HasPrefix(cwd, d.dataDir) || !running(pid) {
			continue
		}
		exe, _ := os.Readlink("/proc/" + e.Name() + "/exe")
		if !strings.Contains(exe, "qemu-system") && !strings.Contains(exe, "virtiofsd") {
			continue
		}
		stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] != strconv.Itoa(d.cmd.Process.Pid) {
			out = append(out, pid)
		}
	}
	return out
}
