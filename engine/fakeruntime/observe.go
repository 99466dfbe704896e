package fakeruntime

import (
	"context"
	"errors"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/ps"
)

// Stats, processes and pause of a fake sandbox. Every Stats call returns
// counters that grew since the last one (CPU 10 ms, network 1000 bytes in
// and 500 out, disk 4096 bytes read and written per call), 64 MiB used of
// 512 MiB (8 MiB of it inactive file pages), one pid per running process.
// A paused sandbox refuses stats, processes and execs, as a frozen guest
// cannot answer.

// errPaused is what a paused fake sandbox answers.
var errPaused = errors.New("fakeruntime: the sandbox is paused")

func (s *sandbox) Stats(ctx context.Context) (engine.Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return engine.Stats{}, errPaused
	}
	s.samples++
	n := s.samples
	running := 0
	for _, p := range s.procs {
		if !p.isExited() {
			running++
		}
	}
	return engine.Stats{
		Read: time.Now(),
		CPU: engine.CPUStats{TotalNs: n * 10e6, UserNs: n * 8e6, KernelNs: n * 2e6, SystemNs: n * 100e6,
			OnlineCPUs: 1},
		Memory:   engine.MemoryStats{Usage: 64 << 20, Limit: 512 << 20, Stats: map[string]uint64{"inactive_file": 8 << 20}},
		Networks: []engine.NetworkStats{{Name: "eth0", RxBytes: n * 1000, RxPackets: n * 10, TxBytes: n * 500, TxPackets: n * 5}},
		BlockIO:  []engine.BlockIOStats{{Major: 254, Minor: 16, Reads: n, ReadBytes: n * 4096, Writes: n, WriteBytes: n * 4096}},
		Pids:     running,
	}, nil
}

func (s *sandbox) Processes(ctx context.Context) (engine.ProcessList, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paused {
		return engine.ProcessList{}, errPaused
	}
	list := engine.ProcessList{MemTotal: 512 << 20, Processes: []ps.Process{}}
	for _, p := range s.procs {
		if p.isExited() {
			continue
		}
		list.Processes = append(list.Processes, ps.Process{
			Pid: p.pid, PPid: 1, Pgrp: p.pid, Session: p.pid, User: "root", State: "S", Threads: 1,
			Start: s.started, Elapsed: time.Since(s.started), RSS: 1 << 20, VSZ: 4 << 20,
			Comm: p.args[0], Args: p.args,
		})
	}
	return list, nil
}

func (s *sandbox) Pause(ctx context.Context) error {
	if s.pauseErr != nil {
		return s.pauseErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = true
	return nil
}

func (s *sandbox) Resume(ctx context.Context) error {
	if s.pauseErr != nil {
		return s.pauseErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.paused = false
	return nil
}

// Paused says whether the sandbox is paused.
func (s *sandbox) Paused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (p *process) isExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}
