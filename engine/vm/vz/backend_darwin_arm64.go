package vz

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"

	"github.com/Code-Hex/vz/v3"
)

// vzMachine is a running Virtualization.framework VM inside the shim.
type vzMachine struct {
	vm *vz.VirtualMachine
	// keep holds the files whose descriptors Virtualization.framework
	// uses (the NICs' sockets) for the VM's whole life: a dropped
	// *os.File's finalizer would close the descriptor under it.
	keep []*os.File
	once sync.Once
	done chan struct{}
	err  error
}

// bootVM builds the VM from cfg and starts it.
func bootVM(ctx context.Context, cfg shimConfig) (controller, error) {
	c, keep, err := toVZ(cfg)
	if err != nil {
		return nil, err
	}
	v, err := vz.NewVirtualMachine(c)
	if err != nil {
		closeFiles(keep)
		return nil, fmt.Errorf("create vm: %w", err)
	}
	if err := ctx.Err(); err != nil {
		closeFiles(keep)
		return nil, err
	}
	if err := v.Start(); err != nil {
		closeFiles(keep)
		return nil, fmt.Errorf("start vm: %w", err)
	}
	m := &vzMachine{vm: v, keep: keep, done: make(chan struct{})}
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
		closeFiles(m.keep)
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

// DialGuest connects to the guest's vsock port through the VM's one
// VZVirtioSocketDevice.
func (m *vzMachine) DialGuest(port uint32) (net.Conn, error) {
	devs := m.vm.SocketDevices()
	if len(devs) == 0 {
		return nil, errors.New("the vm has no virtio socket device")
	}
	return devs[0].Connect(port)
}

// Kill stops the VM at once (the caller bounds the wait: stopVM, killVM).
func (m *vzMachine) Kill() error {
	select {
	case <-m.done:
		return nil
	default:
	}
	if !m.vm.CanStop() {
		if m.vm.State() == vz.VirtualMachineStateStopping {
			// The guest powers off by itself (after its main process
			// ended): wait for that; killVM bounds the wait.
			<-m.done
			return nil
		}
		return fmt.Errorf("the vm cannot be stopped in state %s", m.vm.State())
	}
	return m.vm.Stop()
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
