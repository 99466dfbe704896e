package engine

import (
	"context"
	"time"

	"github.com/pier-vm/pier/engine/ps"
)

// What a sandbox tells about its running container (docker stats, docker
// top): read inside its guest, where the whole VM is the container.

// Stats is one sample of a container's counters.
type Stats struct {
	Read     time.Time
	CPU      CPUStats
	Memory   MemoryStats
	Networks []NetworkStats
	BlockIO  []BlockIOStats
	// Pids is the number of tasks (threads) of the container's processes.
	Pids int
}

// CPUStats are CPU times in nanoseconds, summed over the guest's CPUs.
type CPUStats struct {
	// TotalNs is the time the guest's CPUs were busy (the container's
	// usage: the VM is the container); UserNs and KernelNs split it.
	TotalNs, UserNs, KernelNs uint64
	// SystemNs is the guest's CPU time in every state, idle included:
	// docker stats divides usage deltas by its deltas.
	SystemNs   uint64
	OnlineCPUs int
}

// MemoryStats are the guest's memory use in bytes, laid out as a cgroup
// v2 reports it: Usage counts everything the guest uses, page cache
// included, and Stats has inactive_file, which docker stats subtracts.
type MemoryStats struct {
	Usage, Limit uint64
	Stats        map[string]uint64
}

// NetworkStats are one interface's counters.
type NetworkStats struct {
	Name                                    string
	RxBytes, RxPackets, RxErrors, RxDropped uint64
	TxBytes, TxPackets, TxErrors, TxDropped uint64
}

// BlockIOStats are one disk's counters.
type BlockIOStats struct {
	Major, Minor       uint64
	Reads, ReadBytes   uint64
	Writes, WriteBytes uint64
}

// ProcessList is a container's processes, with guest PIDs.
type ProcessList = ps.List

// Observer reads a running container's counters and processes.
type Observer interface {
	// Stats samples the container's counters.
	Stats(ctx context.Context) (Stats, error)
	// Processes lists the container's processes.
	Processes(ctx context.Context) (ProcessList, error)
}

// Pauser stops and resumes a container's VM (docker pause): its vCPUs
// stop; memory, devices and connections stay. A runtime whose hypervisor
// cannot pause answers with a not-implemented error.
type Pauser interface {
	Pause(ctx context.Context) error
	Resume(ctx context.Context) error
}
