package fakeruntime

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/ps"
)

// Stats, processes and pause of a fake sandbox. Every Stats call returns
// counters that grew since the last one (CPU 10 ms, network 1000 bytes in
// and 500 out, disk 4096 bytes read and written per call), 64 MiB used of
// 512 MiB (8 MiB of it inactive file pages), one pid per running process.
// A paused sandbox refuses stats and processes, as a frozen guest cannot
// answer, and holds the signals sent to its processes until it resumes.

// errPaused is what a paused fake sandbox answers.
var errPaused = errors.New("fakeruntime: the sandbox is paused")

func (s *sandbox) Stats(ctx context.Context) (engine.Stats, error) {
	if s.gate.isPaused() {
		return engine.Stats{}, errPaused
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if s.gate.isPaused() {
		return engine.ProcessList{}, errPaused
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	s.gate.pause()
	return nil
}

func (s *sandbox) Resume(ctx context.Context) error {
	if s.pauseErr != nil {
		return s.pauseErr
	}
	s.gate.resume()
	return nil
}

// pauseGate is a sandbox's paused state and the signals held meanwhile.
type pauseGate struct {
	mu      sync.Mutex
	paused  bool
	pending []func()
}

func (g *pauseGate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

func (g *pauseGate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
}

// resume runs what was held, in order.
func (g *pauseGate) resume() {
	g.mu.Lock()
	pending := g.pending
	g.paused, g.pending = false, nil
	g.mu.Unlock()
	for _, f := range pending {
		f()
	}
}

// hold keeps deliver for the resume when paused; false when not paused.
func (g *pauseGate) hold(deliver func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		return false
	}
	g.pending = append(g.pending, deliver)
	return true
}

func (p *process) isExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}
