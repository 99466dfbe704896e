package vz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// stopTimes bounds each step of stopVM.
type stopTimes struct {
	// agent bounds asking the guest's agent for a shutdown: connect,
	// handshake, request.
	agent time.Duration
	// grace is how long the guest has to power off once asked.
	grace time.Duration
	// kill bounds the hard stop, up to the VM's end.
	kill time.Duration
}

var defaultStopTimes = stopTimes{agent: 5 * time.Second, grace: 10 * time.Second, kill: 10 * time.Second}

// stopVM ends vm the guest's own way: pier-init is asked through its
// agent (a session of its own on vsock) to power off, which syncs its
// disks first. Virtualization.framework's RequestStop would send a
// power-button event that pier-init does not handle, so every stop would
// wait out the grace period. When the agent cannot be asked, or the guest
// is not gone after the grace period (or a signal arrives on hurry), the
// VM is stopped hard. Every wait is bounded: stopVM returns within about
// agent+grace+2×kill, with an error when the VM has not ended by then
// (the shim then exits, which ends the VM with it).
func stopVM(vm controller, t stopTimes, hurry <-chan os.Signal, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.agent)
	err := askShutdown(ctx, vm)
	cancel()
	if err != nil {
		log.Warn("guest agent did not take the shutdown request; stopping the vm hard", "err", err)
	} else {
		grace := time.NewTimer(t.grace)
		select {
		case <-vm.Done():
			grace.Stop()
			return nil
		case <-hurry:
		case <-grace.C:
			log.Warn("guest did not power off in time; stopping the vm hard", "grace", t.grace)
		}
		grace.Stop()
	}
	return killVM(vm, t.kill)
}

// askShutdown asks the guest's agent to power the VM off.
func askShutdown(ctx context.Context, vm controller) error {
	select {
	case <-vm.Done():
		return nil
	default:
	}
	conn, err := connectAgent(ctx, vm)
	if err != nil {
		return err
	}
	client, err := proto.Dial(ctx, conn)
	if err != nil {
		conn.Close()
		return err
	}
	defer client.Close()
	return client.Shutdown(ctx)
}

// killVM stops vm hard and waits for its end, each bounded by d: a hard
// stop whose completion never comes must not hold the shim forever.
func killVM(vm controller, d time.Duration) error {
	killed := make(chan error, 1)
	go func() { killed <- vm.Kill() }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-vm.Done():
		return nil
	case err := <-killed:
		if err != nil {
			return fmt.Errorf("hard stop: %w", err)
		}
	case <-t.C:
		return fmt.Errorf("hard stop did not complete in %v", d)
	}
	select {
	case <-vm.Done():
		return nil
	case <-t.C:
		return errors.New("the vm did not end after a hard stop")
	}
}
