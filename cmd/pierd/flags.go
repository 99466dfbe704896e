package main

import (
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// options are pierd's command-line settings.
type options struct {
	hosts              []string
	dataRoot           string
	insecureRegistries []string
	accel              string
	guestDir           string
	logLevel           string
	// vmTemplates is "on" (VMs start as clones of template VMs, made at
	// first use and for the common shape at start) or "off" (cold boots).
	vmTemplates string
	// vmShares is how bind mounts and volumes reach a VM: "9p" (QEMU's
	// 9p server; VMs with shares start as clones too) or "virtiofs" (a
	// virtiofsd per share; special files work in shares; cold boots).
	vmShares string
	// liveRestore keeps containers running while pierd is stopped,
	// killed or upgraded; the next pierd adopts them.
	liveRestore bool
	// builderIdle stops the image builder's VM after that long without a
	// build (0: never).
	builderIdle time.Duration
	// tls is how tcp:// hosts serve TLS (dockerd's --tls* flags).
	tls apiTLS
}

// defaultHost is /var/run/docker.sock for root, else a per-user socket.
func defaultHost() string {
	if os.Geteuid() == 0 {
		return "unix:///var/run/docker.sock"
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return "unix://" + filepath.Join(dir, "pier", "docker.sock")
	}
	home, _ := os.UserHomeDir()
	return "unix://" + filepath.Join(home, ".pier", "docker.sock")
}

// defaultDataRoot is /var/lib/pier for root, else a per-user directory.
func defaultDataRoot() string {
	if os.Geteuid() == 0 {
		return "/var/lib/pier"
	}
	if dir := os.Getenv("XDG_DATA_HOME"); dir != "" {
		return filepath.Join(dir, "pier")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "pier")
}

// defaultGuestDir is guest/<arch> next to the pierd binary (make build
// puts it there).
func defaultGuestDir() string {
	exe, err := os.Executable()
	if err != nil {
		return filepath.Join("bin", "guest", runtime.GOARCH)
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	return filepath.Join(filepath.Dir(exe), "guest", runtime.GOARCH)
}
