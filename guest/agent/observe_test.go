//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pier-vm/pier/guest/proto"
)

func TestParseProcStatCommWithParens(t *testing.T) {
	line := "42 (my (odd) cmd) S 1 42 42 34816 42 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1234 10485760 300 18446744073709551615"
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.pid != 42 || st.comm != "my (odd) cmd" || st.state != "S" || st.ppid != 1 || st.utime != 250 || st.stime != 50 ||
		st.threads != 3 || st.starttime != 1234 || st.vsize != 10485760 || st.rss != 300 || ttyName(st.ttyNr) != "pts/0" {
		t.Fatalf("parsed %+v", st)
	}
	if _, err := parseProcStat("garbage"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[uint64]string{0: "", 136<<8 | 3: "pts/3", 4<<8 | 1: "tty1", 4<<8 | 64: "ttyS0", 5<<8 | 1: "console"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}

// The host's /proc and /sys have the same layout as the guest's.
func TestReadStatsFromProc(t *testing.T) {
	s, err := readStats("/proc", "/sys")
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU.Total == 0 || s.CPU.Busy == 0 || s.CPU.Busy > s.CPU.Total || s.OnlineCPUs < 1 {
		t.Errorf("cpu %+v online %d", s.CPU, s.OnlineCPUs)
	}
	if s.Memory["MemTotal"] == 0 || s.Memory["MemFree"] == 0 || s.Memory["MemFree"] > s.Memory["MemTotal"] {
		t.Errorf("memory %v", s.Memory)
	}
	if s.Tasks < 1 {
		t.Errorf("tasks %d", s.Tasks)
	}
	for _, n := range s.Networks {
		if n.Name == "lo" {
			t.Error("loopback counted")
		}
	}
}

func TestReadDiskCountersVirtioOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "diskstats")
	data := " 254       0 vda 120 0 2048 10 0 0 0 0 0 10 10\n" +
		" 254       1 vda1 1 0 8 0 0 0 0 0 0 0 0\n" +
		" 254      16 vdb 30 0 800 5 40 2 160 9 0 12 14\n" +
		"   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	disks, err := readDiskCounters(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Name != "vda" || disks[0].ReadBytes != 2048*512 || disks[1].Name != "vdb" ||
		disks[1].Minor != 16 || disks[1].WriteBytes != 160*512 || disks[1].Writes != 40 {
		t.Fatalf("disks %+v", disks)
	}
}

func TestListProcessesFindsThisProcess(t *testing.T) {
	list, err := listProcesses("/proc", "/")
	if err != nil {
		t.Fatal(err)
	}
	if list.MemTotal == 0 {
		t.Error("no MemTotal")
	}
	me := os.Getpid()
	for _, p := range list.Processes {
		if p.Pid == 1 {
			t.Error("PID 1 listed")
		}
		if p.Pid != me {
			continue
		}
		if p.UID != os.Geteuid() || len(p.Args) == 0 || p.Args[0] != os.Args[0] || p.StartUnixNano == 0 || p.RSS == 0 || p.PPid != os.Getppid() {
			t.Fatalf("this process: %+v", p)
		}
		return
	}
	t.Fatalf("pid %d not listed among %d processes", me, len(list.Processes))
}

// The host's typed client gets stats and the process list over the
// protocol: an exec'd process shows up with its argv.
func TestStatsAndProcessesOverTheProtocol(t *testing.T) {
	c := dialAgent(t, Hooks{})
	ctx := context.Background()
	s, err := c.Stats(ctx)
	if err != nil || s.CPU.Total == 0 || s.Memory["MemTotal"] == 0 {
		t.Fatalf("stats: %+v %v", s, err)
	}
	p, err := c.Exec(ctx, proto.ProcessSpec{Args: []string{"sleep", "30"}, Env: []string{"PATH=/usr/bin:/bin"}}, proto.ProcessIO{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Signal(syscall.SIGKILL)
	list, err := c.Processes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range list.Processes {
		if q.Pid == p.Pid() {
			if q.Comm != "sleep" || strings.Join(q.Args, " ") != "sleep 30" || q.PPid != os.Getpid() {
				t.Fatalf("exec'd process: %+v", q)
			}
			return
		}
	}
	t.Fatalf("exec'd pid %d not among %d processes", p.Pid(), len(list.Processes))
}
