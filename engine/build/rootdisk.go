package build

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/Microsoft/hcsshim/ext4/tar2ext4"

	"github.com/pier-vm/pier/engine/vm"
)

// rootDisk returns the builder's read-only root disk: RootTar as ext4,
// made once per content of the tar (a rebuilt builder gets a new disk, the
// old one goes). The tar is hashed again only when its size or time
// changed (vm.FileDigest).
func (b *Builder) rootDisk() (string, error) {
	sum, err := vm.FileDigest(b.cfg.RootTar)
	if err != nil {
		return "", err
	}
	name := "root-" + sum[:16] + ".ext4"
	path := b.statePath(name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	f, err := os.Open(b.cfg.RootTar)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tmp, err := os.CreateTemp(b.cfg.Dir, ".tmp-root-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tar2ext4.Convert(f, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("converting %s: %w", b.cfg.RootTar, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	// Disks of earlier builder roots, and temporary files of conversions a
	// killed pierd did not finish, go.
	stale, _ := filepath.Glob(b.statePath("root-*.ext4"))
	temps, _ := filepath.Glob(b.statePath(".tmp-root-*"))
	for _, s := range append(stale, temps...) {
		if s != path && s != tmp.Name() {
			os.Remove(s)
		}
	}
	return path, nil
}
