package vz

import (
	"context"
	"errors"
	"fmt"
	"github.com/pier-vm/pier/internal/sockpath"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

// bootFunc boots the VM that cfg describes and returns once it runs.
type bootFunc func(ctx context.Context, cfg shimConfig) (controller, error)

// RunShim is the body of `pierd vz-shim --state-dir DIR`: it boots the VM
// described by DIR/spec.json, serves the control and agent sockets, and
// returns once the VM has ended (nil for a clean guest power-off). SIGTERM,
// SIGINT or a "stop" request end the VM as stopVM does: the guest powers
// off through its agent, else the VM is stopped hard.
func RunShim(ctx context.Context, stateDir string) error {
	return runShim(ctx, stateDir, bootVM, slog.New(slog.NewTextHandler(os.Stderr, nil)))
}

func runShim(ctx context.Context, stateDir string, boot bootFunc, log *slog.Logger) error {
	stateDir, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	cfg, err := readConfig(stateDir)
	if err != nil {
		return err
	}
	ctlPath, err := sockpath.For(stateDir, controlSockName)
	if err != nil {
		return err
	}
	agentPath, err := sockpath.For(stateDir, agentSockName)
	if err != nil {
		return err
	}
	vm, err := boot(ctx, cfg)
	if err != nil {
		return fmt.Errorf("vm %s: %w", cfg.Spec.ID, err)
	}
	log.Info("vm running", "id", cfg.Spec.ID)
	if cfg.Template != nil && cfg.Template.Save {
		return saveAndStop(ctx, vm, *cfg.Template, log)
	}
	bridge := newAgentBridge(vm)
	defer bridge.close()

	ctlL, err := listenUnix(ctlPath)
	if err != nil {
		_ = vm.Kill()
		return err
	}
	agentL, err := listenUnix(agentPath)
	if err != nil {
		ctlL.Close()
		_ = vm.Kill()
		return err
	}
	stopAsked := make(chan struct{}, 1)
	askStop := func() {
		select {
		case stopAsked <- struct{}{}:
		default:
		}
	}
	answered := serveControl(ctlL, vm, os.Getpid(), askStop)
	go bridge.serve(agentL)
	defer removeRuntimeFiles(stateDir)
	if err := writeShimInfo(stateDir, os.Getpid()); err != nil {
		log.Error("no shim.json: the daemon cannot reach this vm", "err", err)
		_ = vm.Kill()
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	vmErr := waitEnd(ctx, vm, sigs, stopAsked, log)
	if err := writeExitRecord(stateDir, vmErr); err != nil {
		log.Error("cannot record the vm's end", "err", err)
	}

	agentL.Close()
	ctlL.Close()
	select {
	case <-answered:
	case <-time.After(2 * time.Second):
	}
	log.Info("vm ended", "id", cfg.Spec.ID, "err", vmErr)
	return vmErr
}

// waitEnd waits for the VM to end; a signal, a "stop" request or the end
// of ctx stops it (stopVM; a second signal skips the grace period). It
// returns why the VM ended (nil for a clean guest power-off), or why it
// could not be stopped: the shim then exits, which ends the VM with it.
func waitEnd(ctx context.Context, vm controller, sigs <-chan os.Signal, stopAsked <-chan struct{}, log *slog.Logger) error {
	select {
	case <-vm.Done():
		return vm.Err()
	case s := <-sigs:
		log.Info("stopping vm", "signal", s)
	case <-stopAsked:
		log.Info("stopping vm", "reason", "stop request")
	case <-ctx.Done():
		log.Info("stopping vm", "reason", ctx.Err())
	}
	if err := stopVM(vm, defaultStopTimes, sigs, log); err != nil {
		log.Error("stopping vm", "err", err)
		if !isClosed(vm.Done()) {
			return fmt.Errorf("the vm did not stop (%v); its shim exits, which ends it", err)
		}
	}
	return vm.Err()
}

// listenUnix listens on path, replacing a stale socket left by a dead shim.
func listenUnix(path string) (net.Listener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}

// removeRuntimeFiles deletes what only a running shim needs; spec.json and
// the logs stay.
func removeRuntimeFiles(dir string) {
	for _, n := range []string{shimFileName, controlSockName, agentSockName, shimPidName} {
		_ = os.Remove(filepath.Join(dir, n))
	}
	sockpath.RemoveLink(dir)
}
