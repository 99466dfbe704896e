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
	"github.com/pier-vm/pier/guest/proto"
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

// shimConfig is spec.json: everything the shim needs to boot the VM, in a
// form that does not depend on the platform that wrote it.
type shimConfig struct {
	Version int     `json:"version"`
	Spec    vm.Spec `json:"spec"`
	// RosettaCache, when set, names the abstract socket on which a
	// rosettad in the guest serves Rosetta's translation cache (macOS
	// 14+); empty by default (WithRosettaCache).
	RosettaCache string `json:"rosettaCache,omitempty"`
	// NICs are the network interfaces: the shim inherits each one's
	// datagram socket (one Ethernet frame per datagram) at FD.
	NICs []shimNIC `json:"nics,omitempty"`
	// Template, when set, makes the shim save a template of the VM
	// (Save) or start the VM from one (template.go).
	Template *shimTemplate `json:"template,omitempty"`
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
// normalize is vm.Normalize plus the framework's own limit: a disk serial
// (VZDiskBlockDeviceIdentifier) holds at most 20 bytes.
func normalize(spec vm.Spec) (vm.Spec, error) {
	spec, err := vm.Normalize(spec)
	if err != nil {
		return spec, err
	}
	for _, d := range spec.Disks {
		if len(d.Serial) > 20 {
			return spec, errdefs.InvalidParameterf("vm %s: disk serial %q is longer than 20 bytes", spec.ID, d.Serial)
		}
	}
	return spec, nil
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	return atomicwriter.WriteFile(path, data, 0o600)
}

// kernelCmdline is the driver's kernel arguments followed by spec's: the
// console is the virtio console (hvc0); a panic reboots, which ends a vz
// VM; the agent serves on vsock (agentbridge.go).
func kernelCmdline(spec vm.Spec) string {
	args := []string{"console=hvc0", "panic=-1", "quiet", proto.CmdlineAgent + "=" + proto.AgentVsock}
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
