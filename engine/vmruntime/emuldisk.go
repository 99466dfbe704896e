package vmruntime

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/vm"
)

// disk returns the read-only ext4 image that holds p's emulator alone, at
// its root, mode 0755: <dir>/<arch>-<key>.ext4, where key hashes the
// interpreter's name and the emulator's content (vm.FileDigest: hashed
// again only when its size or modification time changes). It is built
// once, atomically (temp file, rename); a new emulator gets a new image
// and the images of the old one are removed (VMs still running from one
// keep their open file).
func (e *emulators) disk(p emulation.Plan) (string, error) {
	sum, err := vm.FileDigest(p.EmulatorPath)
	if err != nil {
		return "", fmt.Errorf("the %s emulator: %w", p.Arch, err)
	}
	h := sha256.Sum256([]byte(p.Interpreter + "\n" + sum))
	path := filepath.Join(e.dir, p.Arch+"-"+hex.EncodeToString(h[:])[:16]+".ext4")
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return "", err
	}
	if err := buildEmulatorDisk(p.EmulatorPath, p.Interpreter, path); err != nil {
		return "", fmt.Errorf("the %s emulator's disk: %w", p.Arch, err)
	}
	old, _ := filepath.Glob(filepath.Join(e.dir, p.Arch+"-*.ext4"))
	for _, o := range old {
		if o != path {
			os.Remove(o)
		}
	}
	return path, nil
}

// buildEmulatorDisk writes an ext4 image holding the file at emulator as
// /name (mode 0755, owned by root) to path, through a temp file beside it.
func buildEmulatorDisk(emulator, name, path string) error {
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("bad interpreter name %q", name)
	}
	content, err := os.ReadFile(emulator)
	if err != nil {
		return err
	}
	fi, err := os.Stat(emulator)
	if err != nil {
		return err
	}
	var archive bytes.Buffer
	tw := tar.NewWriter(&archive)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(content)), ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tar2ext4.Convert(&archive, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
