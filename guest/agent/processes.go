//go:build linux

package agent

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/guest/proto"
)

// docker top: the container's processes as /proc describes them
// (OpProcesses). The host formats them as ps would; the guest needs no ps.

func (a *Agent) serveProcesses(stream net.Conn) {
	list, err := listProcesses("/proc", a.root)
	if err != nil {
		fail(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{Processes: &list})
	stream.Close()
}

// listProcesses describes the container's processes under proc, naming
// their users from root's /etc/passwd.
func listProcesses(proc, root string) (proto.ProcessList, error) {
	list := proto.ProcessList{Processes: []proto.ProcessInfo{}}
	if mem, err := readMeminfo(filepath.Join(proc, "meminfo")); err == nil {
		list.MemTotal = mem["MemTotal"]
	}
	uptime, err := uptimeNs(proc)
	if err != nil {
		return list, err
	}
	bootNs := bootTimeNs(filepath.Join(proc, "stat"))
	procs, err := containerProcesses(proc)
	if err != nil {
		return list, err
	}
	users := passwdNames(filepath.Join(root, "etc/passwd"))
	page := uint64(os.Getpagesize())
	for _, st := range procs {
		dir := filepath.Join(proc, strconv.Itoa(st.pid))
		uid := effectiveUID(filepath.Join(dir, "status"))
		if uid < 0 {
			continue // gone meanwhile
		}
		start := st.starttime * tickNs
		p := proto.ProcessInfo{
			Pid: st.pid, PPid: st.ppid, Pgrp: st.pgrp, Session: st.session, TPGid: st.tpgid,
			UID: uid, User: users[uid], State: st.state, Nice: st.nice, TTY: ttyName(st.ttyNr),
			Threads: st.threads, CPUNs: (st.utime + st.stime) * tickNs,
			VSZ: st.vsize, RSS: st.rss * page, Comm: st.comm, Args: cmdline(filepath.Join(dir, "cmdline")),
		}
		if uptime > start {
			p.ElapsedNs = uptime - start
		}
		if bootNs > 0 {
			p.StartUnixNano = bootNs + int64(start)
		}
		list.Processes = append(list.Processes, p)
	}
	sort.Slice(list.Processes, func(i, j int) bool { return list.Processes[i].Pid < list.Processes[j].Pid })
	return list, nil
}

// bootTimeNs reads btime of /proc/stat in nanoseconds since the epoch (0
// when unknown).
func bootTimeNs(path string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n * 1e9
		}
	}
	return 0
}

// effectiveUID reads the effective uid from /proc/<pid>/status (-1 when
// unreadable).
func effectiveUID(path string) int {
	kv, err := readKeyValues(path)
	if err != nil {
		return -1
	}
	f := strings.Fields(kv["Uid"])
	if len(f) < 2 {
		return -1
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return n
}

// cmdline reads a process's argv (nil for a zombie or a kernel thread).
func cmdline(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	b = bytes.TrimRight(b, "\x00")
	return strings.Split(string(b), "\x00")
}

// passwdNames maps uids to names from a passwd file (first name wins).
func passwdNames(path string) map[int]string {
	out := map[int]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 3 || fields[0] == "" {
			continue
		}
		uid, err := strconv.Atoi(fields[2])
		if err != nil {
			continue
		}
		if _, seen := out[uid]; !seen {
			out[uid] = fields[0]
		}
	}
	return out
}
