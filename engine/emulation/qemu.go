package emulation

import "github.com/pier-vm/pier/engine/platform"

// QEMUBinary is the Debian qemu-user-static binary name for an image
// architecture (GOARCH spelling).
func QEMUBinary(arch string) string {
	switch arch {
	case "amd64":
		return "qemu-x86_64-static"
	case "arm64":
		return "qemu-aarch64-static"
	}
	return "qemu-" + arch + "-static"
}

// FindQEMUUser looks up, with lookPath (exec.LookPath in pierd), the static
// qemu-user emulator of every supported architecture other than host's,
// and returns the ones found, keyed by architecture.
func FindQEMUUser(host platform.Platform, lookPath func(string) (string, error)) map[string]string {
	found := map[string]string{}
	for _, p := range platform.Supported {
		if p.Architecture == host.Architecture {
			continue
		}
		if path, err := lookPath(QEMUBinary(p.Architecture)); err == nil && path != "" {
			found[p.Architecture] = path
		}
	}
	return found
}
