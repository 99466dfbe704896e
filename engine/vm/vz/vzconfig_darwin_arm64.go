package vz

import (
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/Code-Hex/vz/v3"
	"github.com/pier-vm/pier/errdefs"
)

// toVZ is the one place where a shim's config becomes Virtualization.framework
// objects; the result is validated. The returned files back the NICs:
// the caller keeps them open for the VM's life.
// With id, the VM is a generic platform with that machine identifier.
func toVZ(cfg shimConfig, id *vz.GenericMachineIdentifier) (*vz.VirtualMachineConfiguration, []*os.File, error) {
	spec := cfg.Spec
	boot, err := vz.NewLinuxBootLoader(spec.Kernel, vz.WithInitrd(spec.Initramfs), vz.WithCommandLine(kernelCmdline(spec)))
	if err != nil {
		return nil, nil, fmt.Errorf("boot loader: %w", err)
	}
	c, err := vz.NewVirtualMachineConfiguration(boot, uint(spec.CPUs), uint64(spec.MemoryMiB)<<20)
	if err != nil {
		return nil, nil, err
	}
	if id != nil {
		p, err := vz.NewGenericPlatformConfiguration(vz.WithGenericMachineIdentifier(id))
		if err != nil {
			return nil, nil, fmt.Errorf("platform: %w", err)
		}
		c.SetPlatformVirtualMachineConfiguration(p)
	}
	var keep []*os.File
	steps := []struct {
		what string
		set  func(*vz.VirtualMachineConfiguration, shimConfig) error
	}{
		{"disks", setDisks},
		{"console", setConsole},
		{"agent socket device", setSocketDevice},
		{"network", func(c *vz.VirtualMachineConfiguration, cfg shimConfig) error {
			files, err := setNetwork(c, cfg)
			keep = files
			return err
		}},
		{"entropy and memory balloon", setEntropyAndBalloon},
		{"shares", setShares},
	}
	for _, s := range steps {
		if err := s.set(c, cfg); err != nil {
			closeFiles(keep)
			return nil, nil, fmt.Errorf("%s: %w", s.what, err)
		}
	}
	if ok, err := c.Validate(); err != nil || !ok {
		if err == nil {
			err = errors.New("rejected without a reason")
		}
		closeFiles(keep)
		return nil, nil, errdefs.InvalidParameter(fmt.Errorf("vm configuration: %w", err))
	}
	return c, keep, nil
}

// setDisks attaches each disk image with the host's cache on and the
// guest's flushes made durable with fsync. The automatic caching mode
// NewDiskImageStorageDeviceAttachment picks corrupted ext4 on sparse
// images in Lima, vfkit and UTM; cached mode with fsync synchronisation
// is what they settled on.
func setDisks(c *vz.VirtualMachineConfiguration, cfg shimConfig) error {
	var devs []vz.StorageDeviceConfiguration
	for _, d := range cfg.Spec.Disks {
		att, err := vz.NewDiskImageStorageDeviceAttachmentWithCacheAndSync(d.Path, d.ReadOnly,
			vz.DiskImageCachingModeCached, vz.DiskImageSynchronizationModeFsync)
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
func setConsole(c *vz.VirtualMachineConfiguration, cfg shimConfig) error {
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

// setSocketDevice adds the VM's one virtio socket device: the agent's
// channel (vsock port proto.AgentVsockPort; agentbridge.go says why not
// a console port).
func setSocketDevice(c *vz.VirtualMachineConfiguration, _ shimConfig) error {
	dev, err := vz.NewVirtioSocketDeviceConfiguration()
	if err != nil {
		return err
	}
	c.SetSocketDevicesVirtualMachineConfiguration([]vz.SocketDeviceConfiguration{dev})
	return nil
}

// setNetwork adds one virtio-net device per NIC, attached to the
// inherited datagram socket of pier's virtual switch (engine/vnet sizes
// its buffers for the MTU before handing it over). A VM without NICs has
// no network device (--network none). It returns the sockets' files,
// which must stay referenced for the VM's life: the file-handle
// attachment uses the descriptor, and a dropped *os.File's finalizer
// would close it.
func setNetwork(c *vz.VirtualMachineConfiguration, cfg shimConfig) ([]*os.File, error) {
	var devs []*vz.VirtioNetworkDeviceConfiguration
	var files []*os.File
	for _, n := range cfg.NICs {
		f := os.NewFile(uintptr(n.FD), "nic")
		if f == nil {
			return files, fmt.Errorf("nic %s: fd %d is not open", n.MAC, n.FD)
		}
		files = append(files, f)
		att, err := vz.NewFileHandleNetworkDeviceAttachment(f)
		if err != nil {
			return files, fmt.Errorf("nic %s: %w", n.MAC, err)
		}
		if n.MTU > 0 && n.MTU != 1500 {
			// The attachment's MTU must match the guest's (macOS 13+).
			if err := att.SetMaximumTransmissionUnit(n.MTU); err != nil {
				return files, fmt.Errorf("nic %s: MTU %d: %w", n.MAC, n.MTU, err)
			}
		}
		dev, err := vz.NewVirtioNetworkDeviceConfiguration(att)
		if err != nil {
			return files, err
		}
		hw, err := net.ParseMAC(n.MAC)
		if err != nil {
			return files, err
		}
		mac, err := vz.NewMACAddress(hw)
		if err != nil {
			return files, err
		}
		dev.SetMACAddress(mac)
		devs = append(devs, dev)
	}
	c.SetNetworkDevicesVirtualMachineConfiguration(devs)
	return files, nil
}

func setEntropyAndBalloon(c *vz.VirtualMachineConfiguration, _ shimConfig) error {
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
func setShares(c *vz.VirtualMachineConfiguration, cfg shimConfig) error {
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
