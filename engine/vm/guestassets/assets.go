// Package guestassets turns a guest directory (bin/guest/<arch>, filled by
// `make guest guest-assets`) into what a VM driver boots: the uncompressed
// kernel and an initramfs holding the guest init, the kernel modules pier
// needs and the order to load them in.
//
// A guest directory holds:
//
//	pier-init              the static guest init (PID 1)
//	vmlinux                the uncompressed kernel
//	kernel.release         the kernel's release string (uname -r)
//	modules/<kver>/...     the modules and their modules.dep
//	busybox                a static busybox (optional; its mke2fs formats disks)
//
// The initramfs is a newc cpio archive with /init, the modules under
// /lib/modules/<kver>/ and /pier/modules.list: one absolute path per line, in
// dependency order, for the init to load with finit_module.
package guestassets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names inside a guest directory.
const (
	InitName          = "pier-init"
	KernelName        = "vmlinux"
	KernelReleaseName = "kernel.release"
	ModulesDirName    = "modules"
)

// BusyboxName is the static busybox in a guest directory, and BusyboxPath
// where the initramfs holds it: the guest init runs its mke2fs to format a
// container's writable disk on first use.
const (
	BusyboxName = "busybox"
	BusyboxPath = "/pier/busybox"
)

// ModulesListPath is where the initramfs lists the modules to load, in order.
const ModulesListPath = "/pier/modules.list"

// Assets are the files a VM boots from.
type Assets struct {
	// Kernel is the uncompressed kernel image.
	Kernel string
	// Initramfs is the newc cpio archive built for this guest directory.
	Initramfs string
	// KernelRelease is the kernel's `uname -r`.
	KernelRelease string
	// Modules are the module paths inside the initramfs, in load order.
	Modules []string
	// NinePShares says whether the guest loads the 9p modules (9p and
	// its virtio transport), so that shares can be served over virtio-9p
	// (scripts/guest-9p-modules.sh builds them for Debian's kernel).
	NinePShares bool
}

// Prepare returns the assets of guestDir, with <guestDir>/pier-init as the
// guest init. The initramfs is built once per content and kept in cacheDir.
func Prepare(guestDir, cacheDir string) (*Assets, error) {
	return PrepareWithInit(guestDir, filepath.Join(guestDir, InitName), cacheDir)
}

// PrepareWithInit is Prepare with another init binary (tests boot their own).
func PrepareWithInit(guestDir, initPath, cacheDir string) (*Assets, error) {
	kernel := filepath.Join(guestDir, KernelName)
	if _, err := os.Stat(kernel); err != nil {
		return nil, missing(guestDir, err)
	}
	if _, err := os.Stat(initPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("guest init %s is missing (run `make guest`): %w", initPath, err)
		}
		return nil, err
	}
	kver, err := KernelRelease(guestDir)
	if err != nil {
		return nil, err
	}
	mods, err := loadModules(filepath.Join(guestDir, ModulesDirName, kver), kver)
	if err != nil {
		return nil, err
	}
	initramfs, err := buildCached(cacheDir, initPath, mods)
	if err != nil {
		return nil, err
	}
	return &Assets{
		Kernel:        kernel,
		Initramfs:     initramfs,
		KernelRelease: kver,
		Modules:       mods.guestPaths(),
		NinePShares:   mods.hasNineP(),
	}, nil
}

// KernelRelease reads the kernel release recorded in guestDir.
func KernelRelease(guestDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(guestDir, KernelReleaseName))
	if err != nil {
		return "", missing(guestDir, err)
	}
	kver := strings.TrimSpace(string(b))
	if kver == "" || strings.ContainsAny(kver, "/ \n") {
		return "", fmt.Errorf("%s: bad kernel release %q", filepath.Join(guestDir, KernelReleaseName), kver)
	}
	return kver, nil
}

func missing(guestDir string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("guest assets missing in %s (run `make guest-assets`): %w", guestDir, err)
	}
	return err
}
