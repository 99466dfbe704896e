//go:build linux

package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Reading /proc: the pieces docker stats and docker top share. The guest
// is the container, so its /proc is the container's; pier-init (PID 1)
// and kernel threads are not the container's processes and are left out.

// userHZ is the unit of the times in /proc/stat and /proc/<pid>/stat
// (USER_HZ, 100 on every Linux architecture).
const userHZ = 100

// tickNs is one USER_HZ tick in nanoseconds.
const tickNs = 1e9 / userHZ

// pfKthread is PF_KTHREAD in /proc/<pid>/stat's flags.
const pfKthread = 0x00200000

// procStat is the part of /proc/<pid>/stat that is used.
type procStat struct {
	pid, ppid, pgrp, session, tpgid int
	comm, state                     string
	ttyNr                           uint64
	flags                           uint64
	utime, stime                    uint64
	nice, threads                   int
	starttime                       uint64 // ticks since boot
	vsize                           uint64 // bytes
	rss                             uint64 // pages
}

// parseProcStat parses one /proc/<pid>/stat line. The command name is in
// parentheses and may itself hold spaces and parentheses: it ends at the
// last ')'.
func parseProcStat(line string) (procStat, error) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("malformed stat line %q", line)
	}
	var st procStat
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return procStat{}, fmt.Errorf("malformed stat line %q", line)
	}
	st.pid, st.comm = pid, line[open+1:end]
	f := strings.Fields(line[end+1:])
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("short stat line %q", line)
	}
	num := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
	sint := func(i int) int { n, _ := strconv.Atoi(f[i]); return n }
	st.state = f[0]
	st.ppid, st.pgrp, st.session = sint(1), sint(2), sint(3)
	st.ttyNr = num(4)
	st.tpgid = sint(5)
	st.flags = num(6)
	st.utime, st.stime = num(11), num(12)
	st.nice, st.threads = sint(16), sint(17)
	st.starttime = num(19)
	st.vsize, st.rss = num(20), num(21)
	return st, nil
}

// containerProcesses reads the stat of every process under proc that is
// the container's: all but PID 1 (pier-init) and kernel threads.
func containerProcesses(proc string) ([]procStat, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	var out []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == 1 {
			continue
		}
		b, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		st, err := parseProcStat(strings.TrimSpace(string(b)))
		if err != nil || st.flags&pfKthread != 0 || st.pid == 2 || st.ppid == 2 {
			continue
		}
		out = append(out, st)
	}
	return out, nil
}

// ContainerProcessesAlive says whether any of the container's processes
// (all but PID 1 and kernel threads) is still alive: a zombie is dead.
// PID 1 waits on it for the processes it killed after the main one ended.
func ContainerProcessesAlive() bool {
	procs, err := containerProcesses("/proc")
	if err != nil {
		return false
	}
	for _, p := range procs {
		if p.state != "Z" {
			return true
		}
	}
	return false
}

// readKeyValues reads "Key: value [kB]" lines (/proc/meminfo,
// /proc/<pid>/status); kB values are turned into bytes when kB is set.
func readKeyValues(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}

// kbToBytes parses "123 kB" (or a bare number of bytes).
func kbToBytes(v string) (uint64, error) {
	num, unit, _ := strings.Cut(v, " ")
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(unit) == "kB" {
		n *= 1024
	}
	return n, nil
}

// uptimeNs reads /proc/uptime in nanoseconds.
func uptimeNs(proc string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(proc, "uptime"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	secs, err := strconv.ParseFloat(first, 64)
	if err != nil {
		return 0, fmt.Errorf("malformed uptime %q", b)
	}
	return uint64(secs * 1e9), nil
}

// ttyName names a controlling terminal from stat's tty_nr ("" for none).
func ttyName(ttyNr uint64) string {
	if ttyNr == 0 {
		return ""
	}
	major := (ttyNr >> 8) & 0xfff
	minor := (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return fmt.Sprintf("pts/%d", (major-136)*256+minor)
	case major == 4 && minor < 64:
		return fmt.Sprintf("tty%d", minor)
	case major == 4:
		return fmt.Sprintf("ttyS%d", minor-64)
	case major == 5 && minor == 0:
		return "tty"
	case major == 5 && minor == 1:
		return "console"
	}
	return fmt.Sprintf("%d,%d", major, minor)
}

var errNoCPULine = errors.New("no cpu line in /proc/stat")
