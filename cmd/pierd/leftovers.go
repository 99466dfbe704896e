package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// rosettaAvailability turns the vz driver's Rosetta check (nil, or an
// error classified Unavailable when Rosetta is not installed) into the
// emulation decision's terms.
func rosettaAvailability(err error) emulation.RosettaAvailability {
	switch {
	case err == nil:
		return emulation.RosettaInstalled
	case errdefs.IsUnavailable(err):
		return emulation.RosettaNotInstalled
	default:
		return emulation.RosettaUnsupported
	}
}

// vmAttacher is a driver whose VMs can outlive the daemon (the vz driver:
// each VM is owned by a shim process of its own), and which can reconnect
// to one from its state directory.
type vmAttacher interface {
	Attach(ctx context.Context, stateDir string) (vm.Machine, error)
}

// attachTimeout bounds the reattach to one VM's shim.
const attachTimeout = 5 * time.Second

// stopLeftoverVMs reattaches, at daemon start, to every VM still running in
// a container's state directory (containers/<id>/vm) that the engine did
// not adopt (adopted: container IDs), and stops it. The engine records
// such a container as exited, so its VM must not keep running on the
// container's disks, where a later start would boot a second VM. Dead
// shims' leftovers are cleaned up by Attach itself. A driver that cannot
// reattach but can find its leftovers (QEMU: pid files) kills them
// instead. It returns how many VMs (or processes) it stopped.
func stopLeftoverVMs(ctx context.Context, drv vm.Driver, containersDir string, adopted map[string]bool, log *slog.Logger) int {
	dirs := leftoverDirs(containersDir, adopted)
	if k, ok := drv.(vm.LeftoverKiller); ok {
		return killLeftoverVMs(ctx, k, dirs, log)
	}
	a, ok := drv.(vmAttacher)
	if !ok {
		return 0
	}
	stopped := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, attachTimeout)
		m, err := a.Attach(actx, dir)
		cancel()
		if errdefs.IsNotFound(err) {
			continue // no VM runs there (any leftovers are cleaned up)
		}
		if err != nil {
			log.Warn("cannot reattach to a VM left running", "dir", dir, "err", err)
			continue
		}
		log.Warn("a VM outlived the previous daemon; stopping it (its container is recorded as exited)",
			"id", m.ID(), "pid", m.Pid())
		if err := m.Kill(); err != nil {
			log.Error("stopping a leftover VM", "id", m.ID(), "err", err)
			continue
		}
		stopped++
	}
	return stopped
}

// leftoverDirs are the VM state directories of the containers in
// containersDir (containers/<id>/vm) whose VMs were not adopted.
func leftoverDirs(containersDir string, adopted map[string]bool) []string {
	dirs, _ := filepath.Glob(filepath.Join(containersDir, "*", "vm"))
	out := dirs[:0]
	for _, d := range dirs {
		if !adopted[filepath.Base(filepath.Dir(d))] {
			out = append(out, d)
		}
	}
	return out
}

// killLeftoverVMs ends the VM processes (QEMU, virtiofsd) a killed daemon
// left in containers' state directories: they run in sessions of their
// own, and would keep running on the containers' disks. It returns how many
// processes it killed.
func killLeftoverVMs(ctx context.Context, k vm.LeftoverKiller, dirs []string, log *slog.Logger) int {
	killed := 0
	for _, dir := range dirs {
		n, err := k.KillLeftovers(ctx, dir)
		if err != nil {
			log.Error("ending a VM left by the previous daemon", "dir", dir, "err", err)
			continue
		}
		if n > 0 {
			log.Warn("VM processes outlived the previous daemon; killed them (the container is recorded as exited)", "dir", dir, "processes", n)
		}
		killed += n
	}
	return killed
}
