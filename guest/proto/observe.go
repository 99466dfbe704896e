package proto

import (
	"context"
	"errors"
)

// Looking at a running container (docker stats, docker top). Each request
// runs on a stream of its own and is answered by one Response; the guest
// reads /proc and /sys, which are the container's own since the whole VM
// is the container:
//
//	OpStats      -> Response.Stats: one sample of the guest's counters.
//	OpProcesses  -> Response.Processes: the container's processes (every
//	                process of the guest but pier-init and kernel
//	                threads), with guest PIDs.
const (
	OpStats     = "stats"
	OpProcesses = "processes"
)

// StatsSample is one reading of the guest's counters. Times are in
// nanoseconds, sizes in bytes.
type StatsSample struct {
	CPU CPUTimes `json:"cpu"`
	// OnlineCPUs is the number of CPUs the guest runs on.
	OnlineCPUs int `json:"onlineCpus"`
	// Memory is /proc/meminfo, in bytes, by its own keys ("MemTotal",
	// "MemFree", "Inactive(file)", ...).
	Memory   map[string]uint64 `json:"memory"`
	Networks []NetworkCounters `json:"networks,omitempty"`
	Disks    []DiskCounters    `json:"disks,omitempty"`
	// Tasks is the number of tasks (threads) of the container's
	// processes, as a cgroup's pids.current counts them.
	Tasks int `json:"tasks"`
}

// CPUTimes are the guest-wide CPU times of /proc/stat, summed over all
// CPUs.
type CPUTimes struct {
	// User is user and nice time; System is system, irq and softirq time.
	User   uint64 `json:"user"`
	System uint64 `json:"system"`
	// Busy is every state but idle and iowait (User + System + steal).
	Busy uint64 `json:"busy"`
	// Total is every state, idle included.
	Total uint64 `json:"total"`
}

// NetworkCounters are one interface's counters (loopback excluded).
type NetworkCounters struct {
	Name      string `json:"name"`
	RxBytes   uint64 `json:"rxBytes"`
	RxPackets uint64 `json:"rxPackets"`
	RxErrors  uint64 `json:"rxErrors"`
	RxDropped uint64 `json:"rxDropped"`
	TxBytes   uint64 `json:"txBytes"`
	TxPackets uint64 `json:"txPackets"`
	TxErrors  uint64 `json:"txErrors"`
	TxDropped uint64 `json:"txDropped"`
}

// DiskCounters are one virtio disk's counters from /proc/diskstats.
type DiskCounters struct {
	Name       string `json:"name"`
	Major      uint64 `json:"major"`
	Minor      uint64 `json:"minor"`
	Reads      uint64 `json:"reads"`
	ReadBytes  uint64 `json:"readBytes"`
	Writes     uint64 `json:"writes"`
	WriteBytes uint64 `json:"writeBytes"`
}

// ProcessList is the container's processes.
type ProcessList struct {
	// MemTotal is the guest's memory (bytes), for %MEM.
	MemTotal  uint64        `json:"memTotal"`
	Processes []ProcessInfo `json:"processes"`
}

// ProcessInfo is one process as /proc describes it.
type ProcessInfo struct {
	Pid     int `json:"pid"`
	PPid    int `json:"ppid"`
	Pgrp    int `json:"pgrp"`
	Session int `json:"session"`
	// TPGid is the foreground process group of the process's terminal.
	TPGid int `json:"tpgid"`
	UID   int `json:"uid"`
	// User is UID's name in the container's /etc/passwd ("" when none).
	User string `json:"user,omitempty"`
	// State is the state letter (R, S, D, Z, T, ...).
	State string `json:"state"`
	Nice  int    `json:"nice"`
	// TTY is the controlling terminal ("pts/0"), "" when none.
	TTY     string `json:"tty,omitempty"`
	Threads int    `json:"threads"`
	// StartUnixNano is when the process started (guest clock).
	StartUnixNano int64 `json:"startUnixNano"`
	// ElapsedNs is how long it has existed; CPUNs the CPU time it used
	// (user and system).
	ElapsedNs uint64 `json:"elapsedNs"`
	CPUNs     uint64 `json:"cpuNs"`
	// VSZ and RSS are its virtual and resident sizes in bytes.
	VSZ uint64 `json:"vsz"`
	RSS uint64 `json:"rss"`
	// Comm is the command name; Args the command line (empty for a
	// zombie).
	Comm string   `json:"comm"`
	Args []string `json:"args,omitempty"`
}

// Stats reads the guest's counters.
func (c *Client) Stats(ctx context.Context) (StatsSample, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpStats}, &resp)
	if err != nil {
		return StatsSample{}, err
	}
	s.Close()
	if resp.Stats == nil {
		return StatsSample{}, errors.New("the guest agent sent no stats")
	}
	return *resp.Stats, nil
}

// Processes lists the container's processes.
func (c *Client) Processes(ctx context.Context) (ProcessList, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpProcesses}, &resp)
	if err != nil {
		return ProcessList{}, err
	}
	s.Close()
	if resp.Processes == nil {
		return ProcessList{}, errors.New("the guest agent sent no process list")
	}
	return *resp.Processes, nil
}
