//go:build linux

// Package init is pier's PID 1 inside each VM. Its boot is a short sequence
// of named steps: mount the kernel filesystems, load the modules the
// initramfs lists, find the agent's port (under vz: listen on vsock) and
// serve the agent on it. When
// the host starts the container, it mounts the image's read-only root disk
// under the container's writable disk (overlayfs), switches into that root
// and lets the agent run the main process; when that process ends it syncs
// and powers the VM off.
package init

import (
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/agent"
	"github.com/pier-vm/pier/guest/proto"
)

// ModulesList is where the initramfs lists the modules to load, in order.
const ModulesList = "/pier/modules.list"

// Busybox is the static busybox the initramfs carries (for mke2fs).
const Busybox = "/pier/busybox"

// ProbeLine is printed when booted with pier.probe=1 (the KVM probe).
const ProbeLine = "pier: probe ok"

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "pier-init: "+format+"\n", a...)
}

// Main is PID 1. It never returns: the VM powers off.
func Main() {
	defer func() {
		if r := recover(); r != nil {
			logf("panic: %v\n%s", r, debug.Stack())
		}
		powerOff()
	}()
	if err := mountKernelFilesystems(); err != nil {
		logf("mounting kernel filesystems: %v", err)
	}
	cmdline := readCmdline()
	if cmdline["pier.probe"] == "1" {
		fmt.Fprintln(os.Stderr, ProbeLine)
		return
	}
	loadModules(ModulesList)
	reaper := agent.NewReaper()
	a := agent.New(reaper, agent.Hooks{
		SetupContainer: setupContainer,
		MainExited:     stopEverything,
		RecordExit:     func(b []byte) { fmt.Fprintf(os.Stderr, "%s%s\n", proto.ExitRecordPrefix, b) },
		PowerOff:       powerOff,
		MountRoot:      mountRoot,
		Layers:         layers,
	}, kernelRelease())
	if cmdline[proto.CmdlineAgent] == proto.AgentVsock {
		// vz: the agent's ready point is its vsock listener.
		logf("%v", serveVsock(a, proto.AgentVsockPort))
		return
	}
	port, err := findAgentPort(10 * time.Second)
	if err != nil {
		logf("%v", err)
		return
	}
	serveForever(a, port)
}

// readCmdline parses /proc/cmdline into key=value pairs.
func readCmdline() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return out
	}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// serveForever serves the agent on the port; when the host goes away (a
// daemon restart), it serves the next connection.
func serveForever(a *agent.Agent, port string) {
	for {
		f, err := os.OpenFile(port, os.O_RDWR, 0)
		if err != nil {
			logf("open %s: %v", port, err)
			time.Sleep(time.Second)
			continue
		}
		err = a.Serve(&hostPort{File: f})
		f.Close()
		logf("agent connection ended: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

// stopEverything runs once the main process exited: every other process
// is killed and, unless the container's writable disk is discarded anyway
// (ephemeral, no shares), the disks are synced before the host learns the
// status.
func stopEverything() {
	unix.Kill(-1, unix.SIGKILL)
	waitForOthers(200 * time.Millisecond)
	if skipExitSync.Load() {
		return
	}
	unix.Sync()
}

// skipExitSync is set by setupContainer for an ephemeral container without
// shares: nothing it wrote outlives it.
var skipExitSync atomic.Bool

// waitForOthers waits up to d until PID 1 is the only live process (a
// killed process finishes the system call it is in, a write included).
func waitForOthers(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && agent.ContainerProcessesAlive() {
		time.Sleep(2 * time.Millisecond)
	}
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	// Not PID 1 (tests): nothing else to do.
	os.Exit(0)
}
