package vz

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Code-Hex/vz/v3"
)

// vzMachine is a running Virtualization.framework VM inside the shim.
type vzMachine struct {
	vm   *vz.VirtualMachine
	once sync.Once
	done chan struct{}
	err  error
}

// bootVM builds the VM from cfg and starts it.
func bootVM(ctx context.Context, cfg shimConfig, port guestPort) (controller, error) {
	c, err := toVZ(cfg, port)
	if err != nil {
		return nil, err
	}
	v, err := vz.NewVirtualMachine(c)
	if err != nil {
		return nil, fmt.Errorf("create vm: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := v.Start(); err != nil {
		return nil, fmt.Errorf("start vm: %w", err)
	}
	m := &vzMachine{vm: v, done: make(chan struct{})}
	go m.watch()
	return m, nil
}

// watch ends the machine when the VM stops or fails.
func (m *vzMachine) watch() {
	for s := range m.vm.StateChangedNotify() {
		switch s {
		case vz.VirtualMachineStateStopped:
			m.end(nil)
			return
		case vz.VirtualMachineStateError:
			m.end(errors.New("Virtualization.framework stopped the vm with an error"))
			return
		}
	}
}

func (m *vzMachine) end(err error) {
	m.once.Do(func() {
		m.err = err
		close(m.done)
	})
}

func (m *vzMachine) State() string {
	switch s := m.vm.State(); s {
	case vz.VirtualMachineStateRunning:
		return stateRunning
	case vz.VirtualMachineStateStopped:
		return stateStopped
	default:
		return s.String()
	}
}

// RequestStop asks the guest to power off.
func (m *vzMachine) RequestStop() error {
	if !m.vm.CanRequestStop() {
		return fmt.Errorf("the vm cannot take a stop request in state %s", m.vm.State())
	}
	_, err := m.vm.RequestStop()
	return err
}

// Kill stops the VM at once.
func (m *vzMachine) Kill() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	if !m.vm.CanStop() {
		return fmt.Errorf("the vm cannot be stopped in state %s", m.vm.State())
	}
	return m.vm.Stop()
}

// Pause stops the vCPUs.
func (m *vzMachine) Pause() error {
	if !m.vm.CanPause() {
		return fmt.Errorf("the vm cannot be paused in state %s", m.vm.State())
	}
	return m.vm.Pause()
}

// Resume lets the vCPUs run again.
func (m *vzMachine) Resume() error {
	if !m.vm.CanResume() {
		return fmt.Errorf("the vm cannot be resumed in state %s", m.vm.State())
	}
	return m.vm.Resume()
}

func (m *vzMachine) Done() <-chan struct{} { return m.done }

func (m *vzMachine) Err() error {
	select {
	case <-m.done:
		return m.err
	default:
		return nil
	}
}
