package vz

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/Code-Hex/vz/v3"
	"github.com/pier-vm/pier/errdefs"
)

// agentPortName is the virtio console port the guest finds its agent
// channel by (/sys/class/virtio-ports/*/name), as under QEMU.
const agentPortName = "agent"

// toVZ is the one place where a shim's config becomes Virtualization.framework
// objects; the result is validated.
func toVZ(cfg shimConfig, port guestPort) (*vz.VirtualMachineConfiguration, error) {
	spec := cfg.Spec
	boot, err := vz.NewLinuxBootLoader(spec.Kernel, vz.WithInitrd(spec.Initramfs), vz.WithCommandLine(kernelCmdline(spec)))
	if err != nil {
		return nil, fmt.Errorf("boot loader: %w", err)
	}
	c, err := vz.NewVirtualMachineConfiguration(boot, uint(spec.CPUs), uint64(spec.MemoryMiB)<<20)
	if err != nil {
		return nil, err
	}
	steps := []struct {
		what string
		set  func(*vz.VirtualMachineConfiguration, shimConfig, guestPort) error
	}{
		{"disks", setDisks},
		{"console", setConsole},
		{"agent port", setAgentPort},
		{"network", setNetwork},
		{"entropy and memory balloon", setEntropyAndBalloon},
		{"shares", setShares},
	}
	for _, s := range steps {
		if err := s.set(c, cfg, port); err != nil {
			return nil, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	if ok, err := c.Validate(); err != nil || !ok {
		if err == nil {
			err = errors.New("rejected without a reason")
		}
		return nil, errdefs.InvalidParameter(fmt.Errorf("vm configuration: %w", err))
	}
	return c, nil
}

func setDisks(c *vz.VirtualMachineConfiguration, cfg shimConfig, _ guestPort) error {
	var devs []vz.StorageDeviceConfiguration
	for _, d := range cfg.Spec.Disks {
		att, err := vz.NewDiskImageStorageDeviceAttachment(d.Path, d.ReadOnly)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Path, err)
		}
		blk, err := vz.NewVirtioBlockDeviceConfiguration(att)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Path, err)
		}
		if d.Serial != "" {
			if err := blk.SetBlockDeviceIdentifier(d.Serial); err != nil {
				return fmt.Errorf("%s: serial %q: %w", d.Path, d.Serial, err)
			}
		}
		devs = append(devs, blk)
	}
	c.SetStorageDevicesVirtualMachineConfiguration(devs)
	return nil
}

// setConsole writes the guest's hvc0 to the console log.
func setConsole(c *vz.VirtualMachineConfiguration, cfg shimConfig, _ guestPort) error {
	att, err := vz.NewFileSerialPortAttachment(cfg.Spec.ConsoleLog, false)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.Spec.ConsoleLog, err)
	}
	con, err := vz.NewVirtioConsoleDeviceSerialPortConfiguration(att)
	if err != nil {
		return err
	}
	c.SetSerialPortsVirtualMachineConfiguration([]*vz.VirtioConsoleDeviceSerialPortConfiguration{con})
	return nil
}

// setAgentPort adds a multiport virtio console whose port 0 is named
// "agent" and carries the shim's agent pipes.
func setAgentPort(c *vz.VirtualMachineConfiguration, _ shimConfig, port guestPort) error {
	att, err := vz.NewFileHandleSerialPortAttachment(port.GuestReads, port.GuestWrites)
	if err != nil {
		return err
	}
	p, err := vz.NewVirtioConsolePortConfiguration(
		vz.WithVirtioConsolePortConfigurationName(agentPortName),
		vz.WithVirtioConsolePortConfigurationIsConsole(false),
		vz.WithVirtioConsolePortConfigurationAttachment(att),
	)
	if err != nil {
		return err
	}
	dev, err := vz.NewVirtioConsoleDeviceConfiguration()
	if err != nil {
		return err
	}
	dev.SetVirtioConsolePortConfiguration(0, p)
	c.SetConsoleDevicesVirtualMachineConfiguration([]vz.ConsoleDeviceConfiguration{dev})
	return nil
}

// setNetwork adds one virtio-net device per NIC, attached to the
// inherited datagram socket of pier's virtual switch (engine/vnet). A VM
// without NICs has no network device (--network none).
func setNetwork(c *vz.VirtualMachineConfiguration, cfg shimConfig, _ guestPort) error {
	var devs []*vz.VirtioNetworkDeviceConfiguration
	for _, n := range cfg.NICs {
		att, err := vz.NewFileHandleNetworkDeviceAttachment(os.NewFile(uintptr(n.FD), "nic"))
		if err != nil {
			return fmt.Errorf("nic %s: %w", n.MAC, err)
		}
		if n.MTU > 0 && n.MTU != 1500 {
			// The attachment's MTU must match the guest's (macOS 13+).
			if err := att.SetMaximumTransmissionUnit(n.MTU); err != nil {
				return fmt.Errorf("nic %s: MTU %d: %w", n.MAC, n.MTU, err)
			}
		}
		dev, err := vz.NewVirtioNetworkDeviceConfiguration(att)
		if err != nil {
			return err
		}
		hw, err := net.ParseMAC(n.MAC)
		if err != nil {
			return err
		}
		mac, err := vz.NewMACAddress(hw)
		if err != nil {
			return err
		}
		dev.SetMACAddress(mac)
		devs = append(devs, dev)
	}
	c.SetNetworkDevicesVirtualMachineConfiguration(devs)
	return nil
}

func setEntropyAndBalloon(c *vz.VirtualMachineConfiguration, _ shimConfig, _ guestPort) error {
	rng, err := vz.NewVirtioEntropyDeviceConfiguration()
	if err != nil {
		return err
	}
	c.SetEntropyDevicesVirtualMachineConfiguration([]*vz.VirtioEntropyDeviceConfiguration{rng})
	balloon, err := vz.NewVirtioTraditionalMemoryBalloonDeviceConfiguration()
	if err != nil {
		return err
	}
	c.SetMemoryBalloonDevicesVirtualMachineConfiguration([]vz.MemoryBalloonDeviceConfiguration{balloon})
	return nil
}

// setShares adds one virtio-fs device per share; a Rosetta share exports
// Apple's Rosetta for Linux.
func setShares(c *vz.VirtualMachineConfiguration, cfg shimConfig, _ guestPort) error {
	var devs []vz.DirectorySharingDeviceConfiguration
	for _, s := range cfg.Spec.Shares {
		dev, err := vz.NewVirtioFileSystemDeviceConfiguration(s.Tag)
		if err != nil {
			return fmt.Errorf("tag %q: %w", s.Tag, err)
		}
		var share vz.DirectoryShare
		if s.Rosetta {
			share, err = rosettaShare(cfg.RosettaCache)
		} else {
			share, err = hostShare(s.HostPath, s.ReadOnly)
		}
		if err != nil {
			return fmt.Errorf("tag %q: %w", s.Tag, err)
		}
		dev.SetDirectoryShare(share)
		devs = append(devs, dev)
	}
	c.SetDirectorySharingDevicesVirtualMachineConfiguration(devs)
	return nil
}

func hostShare(path string, readOnly bool) (vz.DirectoryShare, error) {
	dir, err := vz.NewSharedDirectory(path, readOnly)
	if err != nil {
		return nil, err
	}
	return vz.NewSingleDirectoryShare(dir)
}

// rosettaShare makes the Rosetta directory share, with the translation
// cache on the abstract socket cache where macOS has caching options (14+;
// older versions refuse the options, and Rosetta runs without a cache).
func rosettaShare(cache string) (vz.DirectoryShare, error) {
	if err := checkRosetta(rosettaStatus()); err != nil {
		return nil, err
	}
	share, err := vz.NewLinuxRosettaDirectoryShare()
	if err != nil {
		return nil, err
	}
	if cache != "" {
		if opts, err := vz.NewLinuxRosettaAbstractSocketCachingOptions(cache); err == nil {
			share.SetOptions(opts)
		}
	}
	return share, nil
}
