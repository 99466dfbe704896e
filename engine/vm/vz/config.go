package vz

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/sys/atomicwriter"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

// Files a VM keeps in its StateDir. The shim runs in StateDir and names its
// sockets relative to it; clients reach them through shortSocketPath.
const (
	specFileName    = "spec.json"
	shimFileName    = "shim.json"
	shimLogName     = "shim.log"
	shimPidName     = "shim.pid"
	controlSockName = "ctl.sock"
	agentSockName   = "agent.sock"
	exitFileName    = "exit.json"
)

// configVersion is the version of spec.json this code writes and reads.
const configVersion = 1

// Defaults for a Spec that leaves sizes empty.
const (
	defaultMemoryMiB = 512
	defaultCPUs      = 1
)

// shimConfig is spec.json: everything the shim needs to boot the VM, in a
// form that does not depend on the platform that wrote it.
type shimConfig struct {
	Version int     `json:"version"`
	Spec    vm.Spec `json:"spec"`
	// RosettaCache, when set, names the abstract socket on which the
	// guest's rosettad serves Rosetta's translation cache (macOS 14+).
	RosettaCache string `json:"rosettaCache,omitempty"`
	// NICs are the network interfaces: the shim inherits each one's
	// datagram socket (one Ethernet frame per datagram) at FD.
	NICs []shimNIC `json:"nics,omitempty"`
}

// shimNIC is one network interface handed to the shim.
type shimNIC struct {
	MAC string `json:"mac"`
	FD  int    `json:"fd"`
	MTU int    `json:"mtu,omitempty"`
}

// firstNICFd is the shim's fd of the first NIC's socket (after stdin,
// stdout and stderr).
const firstNICFd = 3

// attachNICs connects every NIC of spec to its switch with a datagram
// socket, as VZFileHandleNetworkDeviceAttachment wants; the files go to
// the shim as fds firstNICFd, firstNICFd+1, ...
func attachNICs(spec vm.Spec) ([]*os.File, []shimNIC, error) {
	var files []*os.File
	var nics []shimNIC
	if err := vm.CheckNICs(spec.ID, spec.NICs); err != nil {
		return nil, nil, err
	}
	for i, n := range spec.NICs {
		f, err := n.Attach(true)
		if err != nil {
			closeFiles(files)
			return nil, nil, fmt.Errorf("vm %s: nic %d: %w", spec.ID, i, err)
		}
		files = append(files, f)
		nics = append(nics, shimNIC{MAC: n.MAC, FD: firstNICFd + i, MTU: n.MTU})
	}
	return files, nics, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// writeConfig stores cfg as spec.json in dir, atomically.
func writeConfig(dir string, cfg shimConfig) error {
	cfg.Version = configVersion
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, specFileName), append(data, '\n'))
}

// readConfig loads spec.json from dir.
func readConfig(dir string) (shimConfig, error) {
	var cfg shimConfig
	data, err := os.ReadFile(filepath.Join(dir, specFileName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return cfg, errdefs.NotFound(fmt.Errorf("vz: no %s in %s", specFileName, dir))
		}
		return cfg, err
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return cfg, errdefs.InvalidParameter(fmt.Errorf("vz: %s in %s: %w", specFileName, dir, err))
	}
	if cfg.Version != configVersion {
		return cfg, errdefs.InvalidParameterf("vz: %s in %s has version %d, want %d", specFileName, dir, cfg.Version, configVersion)
	}
	return cfg, nil
}

// normalize fills defaults and checks spec, with errors the API can
// classify. Paths become absolute: the shim runs in StateDir.
func normalize(spec vm.Spec) (vm.Spec, error) {
	if spec.ID == "" || spec.StateDir == "" {
		return spec, errdefs.InvalidParameterf("vm spec needs an ID and a StateDir")
	}
	if spec.MemoryMiB == 0 {
		spec.MemoryMiB = defaultMemoryMiB
	}
	if spec.CPUs == 0 {
		spec.CPUs = defaultCPUs
	}
	if spec.MemoryMiB < 64 || spec.CPUs < 1 {
		return spec, errdefs.InvalidParameterf("vm %s: %d MiB and %d CPUs is too small", spec.ID, spec.MemoryMiB, spec.CPUs)
	}
	if spec.ConsoleLog == "" {
		spec.ConsoleLog = filepath.Join(spec.StateDir, "console.log")
	}
	spec.Disks = append([]vm.Disk(nil), spec.Disks...)
	spec.Shares = append([]vm.Share(nil), spec.Shares...)
	paths := []*string{&spec.StateDir, &spec.ConsoleLog, &spec.Kernel, &spec.Initramfs}
	for i := range spec.Disks {
		paths = append(paths, &spec.Disks[i].Path)
	}
	for i := range spec.Shares {
		paths = append(paths, &spec.Shares[i].HostPath)
	}
	for _, p := range paths {
		if *p == "" {
			continue
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			return spec, err
		}
		*p = a
	}
	for what, p := range map[string]string{"kernel": spec.Kernel, "initramfs": spec.Initramfs} {
		if err := mustExist(spec.ID, what, p); err != nil {
			return spec, err
		}
	}
	for _, d := range spec.Disks {
		if err := mustExist(spec.ID, "disk", d.Path); err != nil {
			return spec, err
		}
		if len(d.Serial) > 20 {
			return spec, errdefs.InvalidParameterf("vm %s: disk serial %q is longer than 20 bytes", spec.ID, d.Serial)
		}
	}
	return spec, checkShares(spec)
}

func checkShares(spec vm.Spec) error {
	tags := map[string]bool{}
	for _, s := range spec.Shares {
		if s.Tag == "" {
			return errdefs.InvalidParameterf("vm %s: share of %q has no tag", spec.ID, s.HostPath)
		}
		if tags[s.Tag] {
			return errdefs.InvalidParameterf("vm %s: share tag %q is used twice", spec.ID, s.Tag)
		}
		tags[s.Tag] = true
		if s.Rosetta {
			if s.HostPath != "" {
				return errdefs.InvalidParameterf("vm %s: Rosetta share %q must not name a host path", spec.ID, s.Tag)
			}
			continue
		}
		if fi, err := os.Stat(s.HostPath); err != nil || !fi.IsDir() {
			return errdefs.InvalidParameterf("vm %s: share %q: %s is not a directory", spec.ID, s.Tag, s.HostPath)
		}
	}
	return nil
}

func mustExist(id, what, path string) error {
	if path == "" {
		return errdefs.InvalidParameterf("vm %s: no %s given", id, what)
	}
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errdefs.NotFound(fmt.Errorf("vm %s: %s %s does not exist", id, what, path))
		}
		return fmt.Errorf("vm %s: %s: %w", id, what, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	return atomicwriter.WriteFile(path, data, 0o600)
}

// kernelCmdline is the driver's kernel arguments followed by spec's: the
// console is the virtio console (hvc0); a panic reboots, which ends a vz VM.
func kernelCmdline(spec vm.Spec) string {
	args := []string{"console=hvc0", "panic=-1", "quiet"}
	if s := strings.TrimSpace(spec.Cmdline); s != "" {
		args = append(args, s)
	}
	return strings.Join(args, " ")
}

// macOSAtLeast says whether the product version (kern.osproductversion,
// e.g. "13.4.1") is major or later.
func macOSAtLeast(version string, major int) bool {
	head, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(head)
	return err == nil && n >= major
}
