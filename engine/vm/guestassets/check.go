package guestassets

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Inventory is what Check found in a guest directory.
type Inventory struct {
	KernelRelease string
	// Modules is how many modules the initramfs would load.
	Modules int
	// Busybox says whether the optional static busybox is there.
	Busybox bool
	// NinePShares says whether the modules include 9p (Assets.NinePShares).
	NinePShares bool
}

// Check tells whether guestDir holds what Prepare needs for guests of
// arch ("amd64" or "arm64"): the kernel, in the form the drivers boot
// (an x86-64 ELF vmlinux, or an arm64 raw Image), its release, modules
// with a usable modules.dep, and the guest init built for arch. It builds
// nothing and writes nothing.
func Check(guestDir, arch string) (Inventory, error) {
	var inv Inventory
	kernel := filepath.Join(guestDir, KernelName)
	if err := checkKernel(kernel, arch); err != nil {
		return inv, err
	}
	kver, err := KernelRelease(guestDir)
	if err != nil {
		return inv, err
	}
	mods, err := loadModules(filepath.Join(guestDir, ModulesDirName, kver), kver)
	if err != nil {
		return inv, err
	}
	initPath := filepath.Join(guestDir, InitName)
	if err := checkELF(initPath, arch); err != nil {
		return inv, fmt.Errorf("guest init: %w", err)
	}
	return Inventory{KernelRelease: kver, Modules: len(mods.ordered), Busybox: fileExists(filepath.Join(guestDir, BusyboxName)),
		NinePShares: mods.hasNineP()}, nil
}

// arm64ImageMagic is at offset 56 of an arm64 kernel Image
// (Documentation/arch/arm64/booting.rst).
var arm64ImageMagic = []byte("ARM\x64")

func checkKernel(path, arch string) error {
	f, err := os.Open(path)
	if err != nil {
		return missing(filepath.Dir(path), err)
	}
	defer f.Close()
	head := make([]byte, 64)
	_, _ = io.ReadFull(f, head)
	isImage := bytes.Equal(head[56:60], arm64ImageMagic)
	switch arch {
	case "arm64":
		if !isImage {
			return fmt.Errorf("%s is not an uncompressed arm64 kernel Image (run `make guest-assets GUEST_ARCH=arm64`)", path)
		}
		return nil
	case "amd64":
		if isImage || !bytes.HasPrefix(head, []byte(elf.ELFMAG)) {
			return fmt.Errorf("%s is not an uncompressed x86-64 vmlinux (run `make guest-assets`)", path)
		}
		if err := checkELF(path, arch); err != nil {
			return fmt.Errorf("kernel: %w (run `make guest-assets`)", err)
		}
		return nil
	}
	return fmt.Errorf("no guest kernel format known for %q", arch)
}

// checkELF checks that path is an ELF executable for arch.
func checkELF(path, arch string) error {
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	f, err := elf.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s is missing (run `make guest`): %w", path, err)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s is built for %s, not %s", path, f.Machine, arch)
	}
	return nil
}
