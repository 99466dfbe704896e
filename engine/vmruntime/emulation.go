package vmruntime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/guest/proto"
)

// emulators prepares, once per architecture, a directory holding only the
// static emulator, which the driver exports read-only over virtio-fs.
type emulators struct {
	dir    string // <data root>/emul
	caps   emulation.Capabilities
	native platform.Platform // what the guests run natively (set by New)
	mu     sync.Mutex
}

// plan decides the emulation for an image platform; it fails with an
// invalid-parameter error that says what to install.
func (e *emulators) plan(img platform.Platform) (emulation.Plan, error) {
	return emulation.Decide(e.native, img, e.caps)
}

// share returns the virtio-fs share and the guest's emulation spec for p,
// for a container whose main process is args (systemd mode, see
// emulation.SystemdMode).
func (e *emulators) share(p emulation.Plan, args []string) (vm.Share, *proto.EmulationSpec, error) {
	systemd := emulation.SystemdMode(args)
	switch p.Kind {
	case emulation.Rosetta:
		return vm.Share{Tag: emulation.ShareTag, Rosetta: true, ReadOnly: true},
			&proto.EmulationSpec{ShareTag: emulation.ShareTag, Interpreter: p.Interpreter, Arch: p.Arch, Flags: proto.BinfmtFlagsRosetta, Systemd: systemd}, nil
	case emulation.QEMUUser:
		dir, err := e.prepare(p)
		if err != nil {
			return vm.Share{}, nil, err
		}
		return vm.Share{Tag: emulation.ShareTag, HostPath: dir, ReadOnly: true},
			&proto.EmulationSpec{ShareTag: emulation.ShareTag, Interpreter: p.Interpreter, Arch: p.Arch, Flags: proto.BinfmtFlagsQEMU, Systemd: systemd}, nil
	}
	return vm.Share{}, nil, fmt.Errorf("no emulation share for %q", p.Kind)
}

// prepare copies the emulator into its own directory (once).
func (e *emulators) prepare(p emulation.Plan) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dir := filepath.Join(e.dir, p.Arch)
	dst := filepath.Join(dir, p.Interpreter)
	if fi, err := os.Stat(dst); err == nil && fi.Mode().IsRegular() {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(p.EmulatorPath)
	if err != nil {
		return "", err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dir, os.Rename(tmp.Name(), dst)
}
