package e2e

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// logLines counts the lines of a container's output so far.
func logLines(t *testing.T, d *daemon, name string) int {
	t.Helper()
	return strings.Count(d.ok(t, "logs", name), "\n")
}

// nonZeroSize tells whether a docker stats size ("12.3MiB", "0B") is not
// zero.
func nonZeroSize(s string) bool {
	num := strings.TrimRightFunc(strings.TrimSpace(s), func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	f, err := strconv.ParseFloat(num, 64)
	return err == nil && f > 0
}

// docker stats --no-stream, docker top, docker pause and unpause with the
// real CLI, on a container that counts, writes to its disk and sends a
// DNS query.
func TestStatsTopPauseUnpause(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	name := "observe"
	since := time.Now().Add(-time.Second).Unix()
	d.ok(t, "run", "-d", "--name", name, bb, "sh", "-c",
		"nslookup pier-e2e.invalid >/dev/null 2>&1; i=0; while true; do i=$((i+1)); echo tick $i; "+
			"dd if=/dev/zero of=/tmp/blob bs=64k count=16 2>/dev/null; sync; sleep 0.3; done")
	defer d.docker(t, "", "rm", "-f", name)
	deadline := time.Now().Add(time.Minute)
	for logLines(t, d, name) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the container does not count")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// docker stats: the CLI computes and prints the guest's numbers.
	out := d.ok(t, "stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}", name)
	t.Logf("docker stats: %s", out)
	f := strings.Split(strings.TrimSpace(out), "|")
	if len(f) != 7 || f[0] != name {
		t.Fatalf("docker stats printed %q", out)
	}
	mem := strings.Split(f[2], " / ")
	netIO := strings.Split(f[4], " / ")
	blkIO := strings.Split(f[5], " / ")
	if len(mem) != 2 || !nonZeroSize(mem[0]) || !nonZeroSize(mem[1]) || !strings.HasSuffix(mem[1], "MiB") {
		t.Errorf("MEM USAGE / LIMIT %q", f[2])
	}
	if len(netIO) != 2 || !nonZeroSize(netIO[1]) {
		t.Errorf("NET I/O %q: nothing sent", f[4])
	}
	if len(blkIO) != 2 || !nonZeroSize(blkIO[1]) {
		t.Errorf("BLOCK I/O %q: nothing written", f[5])
	}
	if pids, err := strconv.Atoi(f[6]); err != nil || pids < 1 {
		t.Errorf("PIDS %q", f[6])
	}
	if !regexp.MustCompile(`^\d+\.\d\d%$`).MatchString(f[1]) {
		t.Errorf("CPU %% %q", f[1])
	}
	table := d.ok(t, "stats", "--no-stream", name)
	if !strings.Contains(table, "MEM USAGE / LIMIT") || !strings.Contains(table, name) {
		t.Errorf("docker stats table:\n%s", table)
	}

	// docker top: ps -ef's columns from the guest's /proc, and aux.
	top := d.ok(t, "top", name)
	t.Logf("docker top:\n%s", top)
	lines := strings.Split(strings.TrimSpace(top), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "UID PID PPID C STIME TTY TIME CMD" {
		t.Fatalf("docker top titles %q", lines[0])
	}
	if !strings.Contains(top, "root") || !strings.Contains(top, "sh -c nslookup") {
		t.Fatalf("docker top does not list the main process:\n%s", top)
	}
	if aux := d.ok(t, "top", name, "aux"); !strings.HasPrefix(strings.Join(strings.Fields(aux), " "), "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND") {
		t.Fatalf("docker top aux:\n%s", aux)
	}
	if _, errOut, code := d.docker(t, "", "top", name, "-Z"); code == 0 || !strings.Contains(errOut, "ps: error") {
		t.Fatalf("docker top -Z: exit %d, %q", code, errOut)
	}

	// docker pause: the vCPUs stop, so the loop prints nothing.
	d.ok(t, "pause", name)
	if st := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.Running}}", name); st != "paused true true\n" {
		t.Fatalf("inspect after pause: %q", st)
	}
	if ps := d.ok(t, "ps", "--filter", "name="+name, "--format", "{{.Status}}"); !strings.Contains(ps, "(Paused)") {
		t.Fatalf("docker ps: %q", ps)
	}
	if _, errOut, code := d.docker(t, "", "exec", name, "true"); code == 0 || !strings.Contains(errOut, "is paused, unpause the container before exec") {
		t.Fatalf("exec in a paused container: exit %d, %q", code, errOut)
	}
	if _, errOut, code := d.docker(t, "", "pause", name); code == 0 || !strings.Contains(errOut, "is already paused") {
		t.Fatalf("second pause: exit %d, %q", code, errOut)
	}
	time.Sleep(500 * time.Millisecond) // output already under way
	paused := logLines(t, d, name)
	start := time.Now()
	if out := d.ok(t, "stats", "--no-stream", "--format", "{{.MemUsage}}|{{.PIDs}}", name); !nonZeroSize(strings.Split(out, " / ")[0]) {
		t.Errorf("docker stats of a paused container: %q", out)
	}
	if top := d.ok(t, "top", name); !strings.Contains(top, "sh -c nslookup") {
		t.Errorf("docker top of a paused container:\n%s", top)
	}
	if wait := 3*time.Second - time.Since(start); wait > 0 {
		time.Sleep(wait)
	}
	if n := logLines(t, d, name); n != paused {
		t.Fatalf("the paused container printed %d lines", n-paused)
	}

	d.ok(t, "unpause", name)
	if st := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", name); st != "running false\n" {
		t.Fatalf("inspect after unpause: %q", st)
	}
	deadline = time.Now().Add(30 * time.Second)
	for logLines(t, d, name) <= paused {
		if time.Now().After(deadline) {
			t.Fatal("the container does not count again after unpause")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, errOut, code := d.docker(t, "", "unpause", name); code == 0 || !strings.Contains(errOut, "is not paused") {
		t.Fatalf("unpause of a running container: exit %d, %q", code, errOut)
	}
	// The guest's clock did not stay behind while it was paused.
	guest, err := strconv.ParseInt(strings.TrimSpace(d.ok(t, "exec", name, "date", "+%s")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if skew := time.Now().Unix() - guest; skew > 2 || skew < -2 {
		t.Errorf("the guest's clock is %d s off after unpause", skew)
	}

	// A paused container stops (unpaused first, as dockerd does).
	d.ok(t, "pause", name)
	d.ok(t, "stop", "-t", "1", name)
	if st := d.ok(t, "inspect", "-f", "{{.State.Status}} {{.State.Paused}}", name); st != "exited false\n" {
		t.Fatalf("inspect after stopping a paused container: %q", st)
	}
	events := d.ok(t, "events", "--since", strconv.FormatInt(since, 10), "--until", strconv.FormatInt(time.Now().Unix()+1, 10),
		"--filter", "container="+name, "--format", "{{.Action}}")
	for _, want := range []string{"top", "pause", "unpause"} {
		if !strings.Contains(events, want+"\n") {
			t.Errorf("no %s event in:\n%s", want, events)
		}
	}

	// A stopped container's stats are empty, as dockerd's.
	resp, body := d.rawGET(t, "/containers/"+name+"/stats?stream=false")
	var st struct {
		Name, ID string
		Read     time.Time
		Memory   struct{ Usage uint64 } `json:"memory_stats"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 || st.Name != "/"+name || !st.Read.IsZero() || st.Memory.Usage != 0 {
		t.Fatalf("stats of a stopped container: %d %s", resp.StatusCode, body)
	}
	if _, errOut, code := d.docker(t, "", "top", name); code == 0 || !strings.Contains(errOut, "is not running") {
		t.Fatalf("top of a stopped container: exit %d, %q", code, errOut)
	}
}

// A container with a volume is cold-booted (no template clone): its VM
// pauses and resumes through its own QMP socket too, and rm -f removes it
// while paused.
func TestPauseColdBootedContainer(t *testing.T) {
	d := sharedDaemon(t)
	bb := busybox(t, d)
	name := "observe-cold"
	d.ok(t, "run", "-d", "--name", name, "-v", name+"-vol:/data", bb, "sh", "-c", "while true; do echo tick; sleep 0.2; done")
	defer d.docker(t, "", "volume", "rm", name+"-vol")
	defer d.docker(t, "", "rm", "-f", name)
	deadline := time.Now().Add(time.Minute)
	for logLines(t, d, name) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the container does not count")
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.ok(t, "pause", name)
	time.Sleep(500 * time.Millisecond)
	paused := logLines(t, d, name)
	time.Sleep(2 * time.Second)
	if n := logLines(t, d, name); n != paused {
		t.Fatalf("the paused container printed %d lines", n-paused)
	}
	d.ok(t, "unpause", name)
	deadline = time.Now().Add(30 * time.Second)
	for logLines(t, d, name) <= paused {
		if time.Now().After(deadline) {
			t.Fatal("the container does not count again after unpause")
		}
		time.Sleep(200 * time.Millisecond)
	}
	d.ok(t, "pause", name)
	d.ok(t, "rm", "-f", name)
	if _, _, code := d.docker(t, "", "inspect", name); code == 0 {
		t.Fatal("the paused container is still there after rm -f")
	}
}
