package qemu

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/engine/vm"
)

// Files a VM keeps in its StateDir. Sockets are named relative to StateDir
// (QEMU and virtiofsd run there), so a long StateDir cannot overflow a unix
// socket path.
const (
	agentSocketName = "agent.sock"
	qemuPidName     = "qemu.pid"
	qemuLogName     = "qemu.log"
	qmpSocketName   = "qmp.sock"
)

// agentPortID is the agent port's QOM id (only with machineConfig.qmp).
const agentPortID = "agentport"

func shareSocketName(i int) string  { return fmt.Sprintf("fs%d.sock", i) }
func virtiofsdPidName(i int) string { return fmt.Sprintf("virtiofsd%d.pid", i) }
func virtiofsdLogName(i int) string { return fmt.Sprintf("virtiofsd%d.log", i) }

// machineConfig is what the command line depends on besides the Spec.
type machineConfig struct {
	arch   string // the guests' GOARCH: "amd64" or "arm64" (see WithArch)
	accel  string // AccelKVM or AccelTCG
	tscKHz int    // host CPU clock, 0 if unknown
	// ramFile, when set, holds guest RAM: a template maps it shared (the
	// template's RAM is written there), a clone privately (copy on
	// write: clones share the template's pages until they write).
	ramFile   string
	ramShared bool
	// qmp adds a QMP socket (qmpSocketName) and names the agent port
	// (agentPortID), whose VSERPORT_CHANGE events tell when the guest is
	// ready: templates and clones are driven through it, and every
	// container VM is paused and resumed through it.
	qmp bool
	// nineP serves shares over virtio-9p (QEMU's own server) instead of
	// vhost-user-fs and virtiofsd.
	nineP bool
}

// kernelCmdline is the driver's kernel arguments followed by spec's.
func kernelCmdline(spec vm.Spec, mc machineConfig) string {
	var args []string
	switch mc.arch {
	case "arm64":
		args = append(args, "console=ttyAMA0")
	default:
		// reboot=t: a triple-fault reboot, which -no-reboot turns into exit.
		// pci=off: microvm has no PCI bus; skip probing for one.
		args = append(args, "console=ttyS0", "reboot=t", "tsc=reliable", "pci=off")
		if mc.accel == AccelTCG && mc.tscKHz > 0 {
			args = append(args, "tsc_early_khz="+strconv.Itoa(mc.tscKHz))
		}
	}
	if mc.accel == AccelTCG {
		// An emulated CPU does not speculate: the mitigations only cost time.
		args = append(args, "mitigations=off")
	}
	// cryptomgr.notests: the crypto self-tests cost ~0.5 s of every boot
	// under TCG and guard against nothing the host did not already check.
	args = append(args, "panic=-1", "quiet", "cryptomgr.notests")
	if s := strings.TrimSpace(spec.Cmdline); s != "" {
		args = append(args, s)
	}
	return strings.Join(args, " ")
}

// tcgAccel is TCG with a 32 MiB translation buffer. QEMU reserves 1 GiB
// by default and fills ~37 MB of it during a cold boot. A clone starts
// with an empty buffer (translations are QEMU's, not the guest's, so a
// template cannot carry them) and translates ~30 MB of guest code while it
// sets the container up: 16 MiB (-23 MB per VM, no measured cost to a cold
// boot) made every clone flush and translate again, `docker run --rm
// busybox true` 0.64-0.72 s against 0.51-0.62 s with 32 MiB for +17 MB of
// memory per VM; 24 MiB was as slow as 16, 8 MiB cost ~1 s
// (docs/performance.md).
const tcgAccel = "tcg,tb-size=32"

// qemuArgs builds QEMU's argument list for spec (already normalised).
func qemuArgs(spec vm.Spec, mc machineConfig) []string {
	a := []string{"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"}
	switch mc.arch {
	case "arm64":
		a = append(a, "-M", "virt,gic-version=max")
		if mc.accel == AccelKVM {
			a = append(a, "-accel", "kvm", "-cpu", "host")
		} else {
			// pauth-impdef: QEMU's own pointer-authentication hash instead
			// of the architected QARMA, which costs a Debian kernel ~4x
			// its boot time under TCG.
			a = append(a, "-accel", tcgAccel, "-cpu", "max,pauth-impdef=on")
		}
	default:
		a = append(a, "-M", "microvm")
		if mc.accel == AccelKVM {
			a = append(a, "-accel", "kvm", "-cpu", "host")
		} else {
			// +arat and tsc=reliable let the guest go tickless (idle VMs
			// cost ~0.5% host CPU instead of ~6%).
			a = append(a, "-accel", tcgAccel, "-cpu", "qemu64,+arat")
		}
	}
	a = append(a,
		"-m", strconv.Itoa(spec.MemoryMiB),
		"-smp", strconv.Itoa(spec.CPUs),
		"-kernel", spec.Kernel,
		"-initrd", spec.Initramfs,
		"-append", kernelCmdline(spec, mc),
		"-chardev", "file,id=con0,path="+escape(spec.ConsoleLog),
		"-serial", "chardev:con0",
		// vhost-user devices need modern virtio-mmio.
		"-global", "virtio-mmio.force-legacy=false",
	)
	for i, d := range spec.Disks {
		drive := fmt.Sprintf("file=%s,format=raw,if=none,id=d%d", escape(d.Path), i)
		if d.ReadOnly {
			drive += ",readonly=on"
		} else {
			// The guest's flushes (every ext4 journal commit, the sync
			// before exit) do not fsync the host file: writes still reach
			// the host's page cache at once and survive QEMU, as a runc
			// container's writes to overlay2 do; only a host crash can
			// lose the last of them. A flush cost ~10-100 ms each here.
			drive += ",cache=unsafe"
		}
		dev := fmt.Sprintf("virtio-blk-device,drive=d%d", i)
		if d.Serial != "" {
			dev += ",serial=" + escape(d.Serial)
		}
		a = append(a, "-drive", drive, "-device", dev)
	}
	a = append(a,
		"-device", "virtio-serial-device,id=vser0",
		"-chardev", "socket,id=agent0,path="+agentSocketName+",server=on,wait=off",
	)
	port := "virtserialport,bus=vser0.0,chardev=agent0,name=agent"
	if mc.qmp {
		port += ",id=" + agentPortID
		a = append(a, "-qmp", "unix:"+qmpSocketName+",server=on,wait=off")
	}
	a = append(a, "-device", port)
	a = append(a, nicArgs(spec.NICs)...)
	switch {
	case mc.ramFile != "":
		share := "off"
		if mc.ramShared {
			share = "on"
		}
		a = append(a,
			"-object", fmt.Sprintf("memory-backend-file,id=mem,size=%dM,mem-path=%s,share=%s", spec.MemoryMiB, escape(mc.ramFile), share),
			"-machine", "memory-backend=mem",
		)
	case len(spec.Shares) > 0 && !mc.nineP:
		// vhost-user-fs needs guest RAM that virtiofsd can map.
		a = append(a,
			"-object", fmt.Sprintf("memory-backend-memfd,id=mem,size=%dM,share=on", spec.MemoryMiB),
			"-machine", "memory-backend=mem",
		)
	}
	switch {
	case mc.nineP:
		a = append(a, ninePArgs(spec.Shares)...)
	case len(spec.Shares) > 0:
		for i, s := range spec.Shares {
			a = append(a,
				"-chardev", fmt.Sprintf("socket,id=fs%d,path=%s", i, shareSocketName(i)),
				"-device", fmt.Sprintf("vhost-user-fs-device,chardev=fs%d,tag=%s", i, escape(s.Tag)),
			)
		}
	}
	return a
}

// ninePArgs serves each share from QEMU's 9p server: passthrough (QEMU
// runs as root, so the guest's owners and modes are the host files'),
// device numbers remapped so that a share spanning host file systems
// keeps distinct inode numbers, read-only ones refused writes by QEMU.
func ninePArgs(shares []vm.Share) []string {
	var a []string
	for i, s := range shares {
		fsdev := fmt.Sprintf("local,id=fs%d,path=%s,security_model=passthrough,multidevs=remap", i, escape(s.HostPath))
		if s.ReadOnly {
			fsdev += ",readonly=on"
		}
		a = append(a, "-fsdev", fsdev, "-device", fmt.Sprintf("virtio-9p-device,fsdev=fs%d,mount_tag=%s", i, escape(s.Tag)))
	}
	return a
}

// escape doubles commas, QEMU's way of quoting them inside an option value.
func escape(s string) string { return strings.ReplaceAll(s, ",", ",,") }
