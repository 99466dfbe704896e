package binfmt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Dir is where binfmt_misc is mounted.
const Dir = "/proc/sys/fs/binfmt_misc"

// EnsureMounted mounts binfmt_misc on dir unless dir already holds its
// register file.
func EnsureMounted(dir string) error {
	if mounted(dir) {
		return nil
	}
	if err := syscall.Mount("binfmt_misc", dir, "binfmt_misc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		if errors.Is(err, syscall.EBUSY) && mounted(dir) {
			return nil // mounted meanwhile
		}
		return fmt.Errorf("mount binfmt_misc on %s: %w", dir, err)
	}
	return nil
}

func mounted(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "register"))
	return err == nil
}

// Register registers r with the binfmt_misc mounted on dir. A rule of the
// same name that already exists (its entry file is present, or the kernel
// answers EEXIST) counts as registered: the guest registers each rule once
// per boot, so an existing one is ours.
func Register(dir string, r Rule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, r.Name)); err == nil {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(dir, "register"), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("register binfmt rule %s: %w", r.Name, err)
	}
	err = writeRule(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeRule writes r's line to register in one write (the kernel parses
// one write as one rule). EEXIST, the kernel's answer when a rule of that
// name exists (registered meanwhile, or by an earlier start in this boot),
// counts as registered.
func writeRule(register io.Writer, r Rule) error {
	_, err := register.Write([]byte(r.RegisterLine()))
	switch {
	case err == nil, errors.Is(err, syscall.EEXIST):
		return nil
	}
	return fmt.Errorf("register binfmt rule %s: %w", r.Name, err)
}

// Unregister removes the rule called name from the binfmt_misc mounted on
// dir; a rule that does not exist is not an error.
func Unregister(dir, name string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err == nil {
		_, err = f.Write([]byte("-1"))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		return nil
	}
	return fmt.Errorf("unregister binfmt rule %s: %w", name, err)
}
