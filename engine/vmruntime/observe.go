package vmruntime

import (
	"context"
	"fmt"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/ps"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/guest/proto"
)

// docker stats and docker top ask the guest agent, which reads the
// guest's /proc and /sys; docker pause stops the VM's vCPUs through the
// driver (vm.Pauser), and unpause sets the guest's clock, which stood
// still meanwhile.

func (s *sandbox) Stats(ctx context.Context) (engine.Stats, error) {
	sample, err := s.client.Stats(ctx)
	if err != nil {
		return engine.Stats{}, err
	}
	return statsFromGuest(sample, time.Now()), nil
}

func (s *sandbox) Processes(ctx context.Context) (engine.ProcessList, error) {
	list, err := s.client.Processes(ctx)
	if err != nil {
		return engine.ProcessList{}, err
	}
	return processesFromGuest(list), nil
}

func (s *sandbox) Pause(ctx context.Context) error {
	p, ok := s.machine.(vm.Pauser)
	if !ok {
		return errdefs.NotImplemented(fmt.Errorf("the VMs of this driver cannot be paused"))
	}
	return p.Pause(ctx)
}

func (s *sandbox) Resume(ctx context.Context) error {
	p, ok := s.machine.(vm.Pauser)
	if !ok {
		return errdefs.NotImplemented(fmt.Errorf("the VMs of this driver cannot be paused"))
	}
	if err := p.Resume(ctx); err != nil {
		return err
	}
	// The guest's clock stood still with its vCPUs: set it to the host's.
	// The VM runs again either way, so a failure here fails nothing.
	_ = s.client.SetClock(ctx, time.Now())
	return nil
}

// memoryStatKeys name /proc/meminfo's lines as a cgroup v2 memory.stat
// names the same quantities.
var memoryStatKeys = map[string]string{
	"AnonPages":      "anon",
	"Cached":         "file",
	"KernelStack":    "kernel_stack",
	"PageTables":     "pagetables",
	"Shmem":          "shmem",
	"Mapped":         "file_mapped",
	"Dirty":          "file_dirty",
	"Writeback":      "file_writeback",
	"Active(anon)":   "active_anon",
	"Inactive(anon)": "inactive_anon",
	"Active(file)":   "active_file",
	"Inactive(file)": "inactive_file",
	"Unevictable":    "unevictable",
	"Slab":           "slab",
	"SReclaimable":   "slab_reclaimable",
	"SUnreclaim":     "slab_unreclaimable",
}

// statsFromGuest turns a guest sample into the engine's. Memory: the
// limit is the guest's MemTotal; the usage is everything not free
// (MemTotal - MemFree, page cache included, as a cgroup's memory.current
// counts it), with inactive_file among the stats so that docker stats
// shows usage minus inactive file pages, as it does under dockerd with
// cgroup v2.
func statsFromGuest(g proto.StatsSample, read time.Time) engine.Stats {
	st := engine.Stats{
		Read: read,
		CPU: engine.CPUStats{
			TotalNs: g.CPU.Busy, UserNs: g.CPU.User, KernelNs: g.CPU.System,
			SystemNs: g.CPU.Total, OnlineCPUs: g.OnlineCPUs,
		},
		Pids: g.Tasks,
	}
	total, free := g.Memory["MemTotal"], g.Memory["MemFree"]
	st.Memory.Limit = total
	if total > free {
		st.Memory.Usage = total - free
	}
	st.Memory.Stats = map[string]uint64{}
	for k, name := range memoryStatKeys {
		if v, ok := g.Memory[k]; ok {
			st.Memory.Stats[name] = v
		}
	}
	for _, n := range g.Networks {
		st.Networks = append(st.Networks, engine.NetworkStats{
			Name:    n.Name,
			RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors, RxDropped: n.RxDropped,
			TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped,
		})
	}
	for _, d := range g.Disks {
		st.BlockIO = append(st.BlockIO, engine.BlockIOStats{
			Major: d.Major, Minor: d.Minor,
			Reads: d.Reads, ReadBytes: d.ReadBytes, Writes: d.Writes, WriteBytes: d.WriteBytes,
		})
	}
	return st
}

func processesFromGuest(g proto.ProcessList) engine.ProcessList {
	out := engine.ProcessList{MemTotal: g.MemTotal, Processes: make([]ps.Process, 0, len(g.Processes))}
	for _, p := range g.Processes {
		q := ps.Process{
			Pid: p.Pid, PPid: p.PPid, Pgrp: p.Pgrp, Session: p.Session, TPGid: p.TPGid,
			UID: p.UID, User: p.User, State: p.State, Nice: p.Nice, TTY: p.TTY, Threads: p.Threads,
			Elapsed: time.Duration(p.ElapsedNs), CPU: time.Duration(p.CPUNs),
			VSZ: p.VSZ, RSS: p.RSS, Comm: p.Comm, Args: p.Args,
		}
		if p.StartUnixNano != 0 {
			q.Start = time.Unix(0, p.StartUnixNano)
		}
		out.Processes = append(out.Processes, q)
	}
	return out
}
