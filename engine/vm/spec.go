package vm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/errdefs"
)

// Defaults for a Spec that leaves sizes empty.
const (
	DefaultMemoryMiB = 512
	DefaultCPUs      = 1
)

// Normalize fills spec's defaults and checks what every driver needs: an
// ID and a StateDir, sizes, absolute paths (drivers run their helpers in
// StateDir), a kernel, an initramfs and disks that exist, NICs that can be
// plugged in, and shares with distinct tags that are directories (or
// Rosetta, which only a driver that offers it accepts afterwards). Errors
// are classified for the API. The returned Spec owns its slices.
func Normalize(spec Spec) (Spec, error) {
	if spec.ID == "" || spec.StateDir == "" {
		return spec, errdefs.InvalidParameterf("vm spec needs an ID and a StateDir")
	}
	if spec.MemoryMiB == 0 {
		spec.MemoryMiB = DefaultMemoryMiB
	}
	if spec.CPUs == 0 {
		spec.CPUs = DefaultCPUs
	}
	if spec.MemoryMiB < 64 || spec.CPUs < 1 {
		return spec, errdefs.InvalidParameterf("vm %s: %d MiB and %d CPUs is too small", spec.ID, spec.MemoryMiB, spec.CPUs)
	}
	if spec.ConsoleLog == "" {
		spec.ConsoleLog = filepath.Join(spec.StateDir, "console.log")
	}
	spec.Disks = append([]Disk(nil), spec.Disks...)
	spec.Shares = append([]Share(nil), spec.Shares...)
	spec.NICs = append([]NIC(nil), spec.NICs...)
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
	}
	if err := CheckNICs(spec.ID, spec.NICs); err != nil {
		return spec, err
	}
	return spec, checkShares(spec)
}

func checkShares(spec Spec) error {
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
