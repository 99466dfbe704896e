package qemu

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/vm"
)

func argAfter(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func TestQEMUArgsMicrovmTCG(t *testing.T) {
	spec := vm.Spec{
		ID: "a", StateDir: "/s", Kernel: "/k", Initramfs: "/i", Cmdline: "pier.x=1",
		MemoryMiB: 256, CPUs: 2, ConsoleLog: "/logs/con,sole.log",
		Disks:  []vm.Disk{{Path: "/d/root.img", ReadOnly: true}, {Path: "/d/a,b.img"}},
		Shares: []vm.Share{{Tag: "emul", HostPath: "/x"}},
	}
	args := qemuArgs(spec, machineConfig{arch: "amd64", accel: AccelTCG, tscKHz: 2300000})

	if got := argAfter(args, "-M"); !slices.Equal(got, []string{"microvm"}) {
		t.Errorf("-M %v", got)
	}
	if got := argAfter(args, "-cpu"); !slices.Equal(got, []string{"qemu64,+arat"}) {
		t.Errorf("-cpu %v", got)
	}
	cmdline := argAfter(args, "-append")[0]
	for _, want := range []string{"console=ttyS0", "tsc_early_khz=2300000", "tsc=reliable", "panic=-1"} {
		if !strings.Contains(cmdline, want) {
			t.Errorf("cmdline %q lacks %s", cmdline, want)
		}
	}
	if !strings.HasSuffix(cmdline, " pier.x=1") {
		t.Errorf("cmdline %q does not end with the spec's arguments", cmdline)
	}
	drives := argAfter(args, "-drive")
	if len(drives) != 2 || drives[0] != "file=/d/root.img,format=raw,if=none,id=d0,readonly=on" ||
		drives[1] != "file=/d/a,,b.img,format=raw,if=none,id=d1,cache=unsafe" {
		t.Errorf("drives %q", drives)
	}
	if !slices.Contains(argAfter(args, "-chardev"), "file,id=con0,path=/logs/con,,sole.log") {
		t.Errorf("console chardev missing or unescaped: %q", argAfter(args, "-chardev"))
	}
	if !slices.Contains(argAfter(args, "-object"), "memory-backend-memfd,id=mem,size=256M,share=on") {
		t.Errorf("no shared memory backend with a share: %q", argAfter(args, "-object"))
	}
	if !slices.Contains(argAfter(args, "-device"), "vhost-user-fs-device,chardev=fs0,tag=emul") {
		t.Errorf("no vhost-user-fs device: %q", argAfter(args, "-device"))
	}
}

// With 9p, shares are QEMU's own 9p devices: no vhost-user-fs, and guest
// RAM needs no shared backend (a clone's private RAM serves them).
func TestQEMUArgsNinePShares(t *testing.T) {
	spec := vm.Spec{ID: "a", StateDir: "/s", Kernel: "/k", Initramfs: "/i", MemoryMiB: 256, CPUs: 1, ConsoleLog: "/c",
		Shares: []vm.Share{{Tag: "pier-m0", HostPath: "/h,1"}, {Tag: "pier-m1", HostPath: "/ro", ReadOnly: true}}}
	args := qemuArgs(spec, machineConfig{arch: "amd64", accel: AccelTCG, nineP: true})
	wantFsdev := []string{
		"local,id=fs0,path=/h,,1,security_model=passthrough,multidevs=remap",
		"local,id=fs1,path=/ro,security_model=passthrough,multidevs=remap,readonly=on",
	}
	if got := argAfter(args, "-fsdev"); !slices.Equal(got, wantFsdev) {
		t.Errorf("-fsdev %q, want %q", got, wantFsdev)
	}
	devs := argAfter(args, "-device")
	for _, want := range []string{"virtio-9p-device,fsdev=fs0,mount_tag=pier-m0", "virtio-9p-device,fsdev=fs1,mount_tag=pier-m1"} {
		if !slices.Contains(devs, want) {
			t.Errorf("no %s in %q", want, devs)
		}
	}
	for _, d := range devs {
		if strings.HasPrefix(d, "vhost-user-fs") {
			t.Errorf("vhost-user-fs device with 9p: %s", d)
		}
	}
	if len(argAfter(args, "-object")) != 0 {
		t.Errorf("memory backend for 9p shares: %q", argAfter(args, "-object"))
	}
}

func TestQEMUArgsKVMWithoutShares(t *testing.T) {
	spec := vm.Spec{ID: "a", StateDir: "/s", Kernel: "/k", Initramfs: "/i", MemoryMiB: 512, CPUs: 1, ConsoleLog: "/c"}
	args := qemuArgs(spec, machineConfig{arch: "amd64", accel: AccelKVM, tscKHz: 2300000})
	if got := argAfter(args, "-cpu"); !slices.Equal(got, []string{"host"}) {
		t.Errorf("-cpu %v", got)
	}
	if len(argAfter(args, "-object")) != 0 {
		t.Errorf("memory backend without shares: %q", argAfter(args, "-object"))
	}
	if c := argAfter(args, "-append")[0]; strings.Contains(c, "tsc_early_khz") {
		t.Errorf("KVM cmdline %q has tsc_early_khz", c)
	}
}

func TestParseCPUMHz(t *testing.T) {
	in := "processor\t: 0\nmodel name\t: X\ncpu MHz\t\t: 2300.000\ncpu MHz\t\t: 1.0\n"
	if got := parseCPUMHz(bufio.NewScanner(strings.NewReader(in))); got != 2300000 {
		t.Errorf("got %d, want 2300000", got)
	}
	if got := parseCPUMHz(bufio.NewScanner(strings.NewReader("model name: Y\n"))); got != 0 {
		t.Errorf("got %d without cpu MHz, want 0", got)
	}
}
