//go:build linux

package agent

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/guest/proto"
)

// docker stats: one sample of the guest's counters (OpStats).

func (a *Agent) serveStats(stream net.Conn) {
	sample, err := readStats("/proc", "/sys")
	if err != nil {
		fail(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{Stats: &sample})
	stream.Close()
}

// readStats samples the counters under proc and sys (/proc and /sys).
func readStats(proc, sys string) (proto.StatsSample, error) {
	var s proto.StatsSample
	var err error
	if s.CPU, s.OnlineCPUs, err = readCPUTimes(filepath.Join(proc, "stat")); err != nil {
		return s, err
	}
	if s.Memory, err = readMeminfo(filepath.Join(proc, "meminfo")); err != nil {
		return s, err
	}
	if s.Networks, err = readNetworkCounters(filepath.Join(sys, "class/net")); err != nil {
		return s, err
	}
	if s.Disks, err = readDiskCounters(filepath.Join(proc, "diskstats")); err != nil {
		return s, err
	}
	procs, err := containerProcesses(proc)
	if err != nil {
		return s, err
	}
	for _, p := range procs {
		s.Tasks += max(p.threads, 1)
	}
	return s, nil
}

// readCPUTimes reads the "cpu" line of /proc/stat (user nice system idle
// iowait irq softirq steal ...) and counts the "cpuN" lines.
func readCPUTimes(path string) (proto.CPUTimes, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return proto.CPUTimes{}, 0, err
	}
	defer f.Close()
	var t proto.CPUTimes
	found, cpus := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasPrefix(fields[0], "cpu") {
			continue
		}
		if fields[0] != "cpu" {
			cpus++
			continue
		}
		found = true
		var v [8]uint64
		for i := 0; i < len(v) && i+1 < len(fields); i++ {
			v[i], _ = strconv.ParseUint(fields[i+1], 10, 64)
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		t.User = (user + nice) * tickNs
		t.System = (system + irq + softirq) * tickNs
		t.Busy = t.User + t.System + steal*tickNs
		t.Total = t.Busy + (idle+iowait)*tickNs
	}
	if err := sc.Err(); err != nil {
		return t, 0, err
	}
	if !found {
		return t, 0, errNoCPULine
	}
	return t, max(cpus, 1), nil
}

// readMeminfo reads /proc/meminfo in bytes.
func readMeminfo(path string) (map[string]uint64, error) {
	kv, err := readKeyValues(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(kv))
	for k, v := range kv {
		if n, err := kbToBytes(v); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// readNetworkCounters reads the statistics of every interface under dir
// (/sys/class/net) but loopback.
func readNetworkCounters(dir string) ([]proto.NetworkCounters, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, err
	}
	var out []proto.NetworkCounters
	for _, e := range entries {
		if e.Name() == "lo" {
			continue
		}
		stat := func(name string) uint64 {
			b, err := os.ReadFile(filepath.Join(dir, e.Name(), "statistics", name))
			if err != nil {
				return 0
			}
			n, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			return n
		}
		out = append(out, proto.NetworkCounters{
			Name:    e.Name(),
			RxBytes: stat("rx_bytes"), RxPackets: stat("rx_packets"), RxErrors: stat("rx_errors"), RxDropped: stat("rx_dropped"),
			TxBytes: stat("tx_bytes"), TxPackets: stat("tx_packets"), TxErrors: stat("tx_errors"), TxDropped: stat("tx_dropped"),
		})
	}
	return out, nil
}

// sectorSize is the unit of /proc/diskstats' sector counts.
const sectorSize = 512

// readDiskCounters reads the whole virtio disks (vda, vdb, ...) of
// /proc/diskstats: the container's image and writable disks.
func readDiskCounters(path string) ([]proto.DiskCounters, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []proto.DiskCounters
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || !isWholeVirtioDisk(fields[2]) {
			continue
		}
		num := func(i int) uint64 { n, _ := strconv.ParseUint(fields[i], 10, 64); return n }
		out = append(out, proto.DiskCounters{
			Name: fields[2], Major: num(0), Minor: num(1),
			Reads: num(3), ReadBytes: num(5) * sectorSize,
			Writes: num(7), WriteBytes: num(9) * sectorSize,
		})
	}
	return out, sc.Err()
}

// isWholeVirtioDisk says whether name is a virtio disk (vda), not one of
// its partitions (vda1).
func isWholeVirtioDisk(name string) bool {
	if !strings.HasPrefix(name, "vd") || len(name) < 3 {
		return false
	}
	for _, r := range name[2:] {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}
