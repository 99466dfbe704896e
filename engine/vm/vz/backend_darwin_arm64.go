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
	// machineID is the GenericMachineIdentifier's data of a VM booted
	// with a template.
	machineID []byte
	once      sync.Once
	done      chan struct{}
	err       error
}

// bootVM builds the VM from cfg and starts it: a cold boot, or, with a
// template (template.go), a boot to be saved (Save) or a restore of the
// saved state, resumed.
func bootVM(ctx context.Context, cfg shimConfig) (controller, error) {
	id, err := machineIdentifier(cfg.Template)
	if err != nil {
		return nil, err
	}
	c, keep, err := toVZ(cfg, id)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (controller, error) {
		closeFiles(keep)
		return nil, err
	}
	if cfg.Template != nil {
		if ok, err := c.ValidateSaveRestoreSupport(); err != nil || !ok {
			if err == nil {
				err = errors.New("refused without a reason")
			}
			return fail(fmt.Errorf("this vm configuration cannot be saved and restored: %w", err))
		}
	}
	v, err := vz.NewVirtualMachine(c)
	if err != nil {
		return fail(fmt.Errorf("create vm: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if t := cfg.Template; t != nil && !t.Save {
		// A new VM is stopped: the state restores into it paused.
		if err := v.RestoreMachineStateFromURL(t.State); err != nil {
			return fail(fmt.Errorf("restore the template's state: %w", err))
		}
		if err := v.Resume(); err != nil {
			_ = v.Stop()
			return fail(fmt.Errorf("resume the restored vm: %w", err))
		}
	} else if err := v.Start(); err != nil {
		return fail(fmt.Errorf("start vm: %w", err))
	}
	m := &vzMachine{vm: v, keep: keep, done: make(chan struct{})}
	if id != nil {
		m.machineID = id.DataRepresentation()
	}
	go m.watch()
	return m, nil
}

// machineIdentifier is the VM's GenericMachineIdentifier: nil (the
// framework's default) without a template, a new one for a template to be
// saved, the template's own for a clone (a state restores only into a VM
// with the identifier it was saved with).
func machineIdentifier(t *shimTemplate) (*vz.GenericMachineIdentifier, error) {
	switch {
	case t == nil:
		return nil, nil
	case t.Save:
		return vz.NewGenericMachineIdentifier()
	default:
		id, err := vz.NewGenericMachineIdentifierWithDataPath(t.MachineID)
		if err != nil {
			return nil, fmt.Errorf("the template's machine identifier: %w", err)
		}
		return id, nil
	}
}

// SaveTemplate pauses the VM, writes its machine identifier and saves its
// state (macOS 14+).
func (m *vzMachine) SaveTemplate(t shimTemplate) error {
	if len(m.machineID) == 0 {
		return errors.New("the vm was not booted to be saved")
	}
	if err := m.vm.Pause(); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if err := writeFileAtomic(t.MachineID, m.machineID); err != nil {
		return err
	}
	return m.vm.SaveMachineStateToPath(t.State)
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
