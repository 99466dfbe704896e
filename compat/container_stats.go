package compat

import (
	"github.com/docker/docker/api/types/container"

	"github.com/pier-vm/pier/engine"
)

// ContainerStats lays out one docker stats sample as dockerd does on a
// cgroup v2 host: a container that is not running gets only its name and
// ID (every counter zero); block I/O per disk with "read" and "write"
// operations; memory usage with the stats docker stats subtracts
// (inactive_file); no per-CPU usage.
func ContainerStats(e engine.StatsEntry) container.StatsResponse {
	out := container.StatsResponse{Name: e.Name, ID: e.ID}
	if e.Pre != nil {
		out.PreRead = e.Pre.Read
		out.PreCPUStats = cpuStats(e.Pre.CPU)
	}
	st := e.Stats
	if st == nil {
		return out
	}
	out.Read = st.Read
	out.CPUStats = cpuStats(st.CPU)
	out.PidsStats = container.PidsStats{Current: uint64(st.Pids)}
	out.MemoryStats = container.MemoryStats{Usage: st.Memory.Usage, Limit: st.Memory.Limit, Stats: st.Memory.Stats}
	out.BlkioStats = container.BlkioStats{IoServiceBytesRecursive: []container.BlkioStatEntry{}, IoServicedRecursive: []container.BlkioStatEntry{}}
	for _, d := range st.BlockIO {
		out.BlkioStats.IoServiceBytesRecursive = append(out.BlkioStats.IoServiceBytesRecursive,
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "read", Value: d.ReadBytes},
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "write", Value: d.WriteBytes})
		out.BlkioStats.IoServicedRecursive = append(out.BlkioStats.IoServicedRecursive,
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "read", Value: d.Reads},
			container.BlkioStatEntry{Major: d.Major, Minor: d.Minor, Op: "write", Value: d.Writes})
	}
	if len(st.Networks) > 0 {
		out.Networks = make(map[string]container.NetworkStats, len(st.Networks))
		for _, n := range st.Networks {
			out.Networks[n.Name] = container.NetworkStats{
				RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
				TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
			}
		}
	}
	return out
}

func cpuStats(c engine.CPUStats) container.CPUStats {
	return container.CPUStats{
		CPUUsage:    container.CPUUsage{TotalUsage: c.TotalNs, UsageInKernelmode: c.KernelNs, UsageInUsermode: c.UserNs},
		SystemUsage: c.SystemNs,
		OnlineCPUs:  uint32(c.OnlineCPUs),
	}
}
