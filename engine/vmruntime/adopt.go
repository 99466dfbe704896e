package vmruntime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/guest/proto"
)

// A container's VM outlives the daemon (live restore): QEMU or the vz
// shim runs in a session of its own, and the guest keeps the main
// process's output and exit status until a host takes them
// (guest/agent/journal.go). A restarted daemon adopts the VM through the
// driver (vm.Adopter), connects to its agent again and reattaches to the
// main process from where the container's log ends.

var _ engine.SandboxAdopter = (*Runtime)(nil)

// adoptTimeout bounds the reconnection to one VM's agent.
const adoptTimeout = 20 * time.Second

// Adopt takes over the VM a previous daemon left running for
// req.ContainerID.
func (r *Runtime) Adopt(ctx context.Context, req engine.AdoptRequest) (engine.Sandbox, error) {
	a, ok := r.driver.(vm.Adopter)
	if !ok {
		return nil, &engine.SandboxGoneError{Reason: fmt.Sprintf("the %s driver cannot take over a running VM", r.driver.Name())}
	}
	ctx, cancel := context.WithTimeout(ctx, adoptTimeout)
	defer cancel()
	machine, err := a.Adopt(ctx, req.ContainerID, req.StateDir)
	if errdefs.IsNotFound(err) {
		return nil, goneError(req.ConsoleLog)
	}
	if errdefs.KindOf(err) == errdefs.KindNotImplemented {
		return nil, &engine.SandboxGoneError{Reason: err.Error()}
	}
	if err != nil {
		return nil, err
	}
	sb, err := r.rejoin(ctx, machine, req)
	if err != nil {
		machine.Kill()
		return nil, &engine.SandboxGoneError{Status: exitRecord(req.ConsoleLog),
			Reason: fmt.Sprintf("the container's VM could not be taken over, stopped it: %v", err)}
	}
	return sb, nil
}

// rejoin connects to an adopted VM's agent and reattaches to the main
// process.
func (r *Runtime) rejoin(ctx context.Context, machine vm.Machine, req engine.AdoptRequest) (*sandbox, error) {
	ctx, cancel := watchBoot(ctx, machine)
	defer cancel(nil)
	if p, ok := machine.(vm.Pauser); ok && req.Paused {
		// A paused guest cannot answer: it runs for the reattach only.
		if err := p.Resume(ctx); err != nil {
			return nil, fmt.Errorf("resuming the paused VM: %w", err)
		}
		defer func() {
			if err := p.Pause(context.WithoutCancel(ctx)); err != nil {
				r.log.Warn("pausing an adopted VM again", "id", req.ContainerID, "err", err)
			}
		}()
	}
	client, err := dialAgent(ctx, machine)
	if err != nil {
		return nil, err
	}
	gm, err := mounts(req.Mounts)
	if err != nil {
		client.Close()
		return nil, err
	}
	if len(gm.sockets) > 0 {
		go client.ServeForwarded(gm.dialSocket)
	}
	have := proto.OutputOffsets{Stdout: req.Have.Stdout, Stderr: req.Have.Stderr}
	proc, at, err := client.Reattach(ctx, have, processIO(req.Stdio), req.Stdio.Stdin != nil)
	if err != nil {
		client.Close()
		return nil, err
	}
	if at != have {
		r.log.Warn("output of an adopted container was lost while the daemon was away",
			"id", req.ContainerID, "stdoutBytes", at.Stdout-have.Stdout, "stderrBytes", at.Stderr-have.Stderr)
	}
	r.log.Info("adopted a running container", "id", req.ContainerID, "pid", machine.Pid())
	return &sandbox{machine: machine, client: client, process: process{proc}}, nil
}

// goneError is the end of a VM that stopped while the daemon was away: the
// guest's exit record on the console when it has one, else a VM death.
func goneError(consoleLog string) error {
	if st := exitRecord(consoleLog); st != nil {
		return &engine.SandboxGoneError{Status: st, Reason: "the container exited while the daemon was away"}
	}
	return &engine.SandboxGoneError{
		Status: &engine.ExitStatus{Code: vmDeathExitCode, ExitedAt: time.Now()},
		Reason: "the container's VM stopped while the daemon was away",
	}
}

// exitRecord reads the main process's exit status from the last record
// the guest wrote on its console (nil: none).
func exitRecord(consoleLog string) *engine.ExitStatus {
	f, err := os.Open(consoleLog)
	if err != nil {
		return nil
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if _, rec, ok := strings.Cut(sc.Text(), proto.ExitRecordPrefix); ok {
			last = rec
		}
	}
	if last == "" {
		return nil
	}
	var st proto.ExitStatus
	if json.Unmarshal([]byte(strings.TrimSpace(last)), &st) != nil {
		return nil
	}
	exitedAt := time.Now()
	if fi, err := f.Stat(); err == nil {
		exitedAt = fi.ModTime()
	}
	return &engine.ExitStatus{Code: st.Code, OOMKilled: st.OOMKilled, ExitedAt: exitedAt}
}

// Detach leaves the VM running and closes the connection to it (the
// daemon stops with live restore); Wait then returns engine.ErrDetached.
func (s *sandbox) Detach() {
	s.detached.Store(true)
	s.client.Close()
}
