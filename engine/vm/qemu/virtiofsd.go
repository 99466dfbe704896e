package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pier-vm/pier/engine/vm"
)

// startVirtiofsd serves share i over the vhost-user socket fs<i>.sock in
// stateDir and waits until the socket exists (QEMU connects to it as a
// client and fails if it is missing).
//
// virtiofsd (the C one in QEMU 7.2) has no read-only mode: a read-only share
// is exported through a private mount namespace in which the source is
// re-bound read-only (util-linux unshare + mount), so the guest cannot write
// to it whatever it mounts.
func (d *Driver) startVirtiofsd(ctx context.Context, stateDir string, i int, share vm.Share) (*helper, error) {
	socket := shareSocketName(i)
	_ = os.Remove(filepath.Join(stateDir, socket))
	fsdArgs := []string{
		"--socket-path=" + pidUniqueSocketPath(stateDir, socket),
		"-o", "source=" + share.HostPath,
		"-o", "cache=auto",
		"-o", "sandbox=chroot",
		"-o", "log_level=warn",
	}
	bin, args := d.virtiofsd, fsdArgs
	if share.ReadOnly {
		// $1 is the source; the rest is the virtiofsd command line.
		const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`
		bin = "unshare"
		args = append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", share.HostPath, d.virtiofsd}, fsdArgs...)
	}
	h, err := startHelper(bin, args, stateDir, filepath.Join(stateDir, virtiofsdLogName(i)), filepath.Join(stateDir, virtiofsdPidName(i)))
	if err != nil {
		return nil, err
	}
	if err := waitForFile(ctx, filepath.Join(stateDir, socket), h.exited, 10*time.Second); err != nil {
		died := isClosed(h.exited)
		h.kill()
		<-h.exited
		if died {
			err = h.exitError("virtiofsd exited")
		}
		return nil, fmt.Errorf("virtiofsd for share %q: %w", share.Tag, err)
	}
	return h, nil
}

// maxSocketPath is the longest socket path handed to virtiofsd (unix socket
// paths are limited to 108 bytes).
const maxSocketPath = 100

// pidUniqueSocketPath names socket (a file in stateDir, virtiofsd's working
// directory) so that the name is unique to this VM: virtiofsd derives a
// host-global pid file (/run/virtiofsd/<path, '/' as '.'>.pid) from the path
// as given, so a bare "fs0.sock" would let only one VM with a share run at a
// time ("Cannot lock pid file"). The absolute path is used when it fits,
// else "../../<a>/<b>/fs0.sock" through as many of stateDir's trailing
// components as fit.
func pidUniqueSocketPath(stateDir, socket string) string {
	if abs := filepath.Join(stateDir, socket); len(abs) <= maxSocketPath {
		return abs
	}
	parts := strings.Split(strings.Trim(filepath.Clean(stateDir), "/"), "/")
	best := socket
	for k := 1; k <= len(parts); k++ {
		p := strings.Repeat("../", k) + strings.Join(parts[len(parts)-k:], "/") + "/" + socket
		if len(p) > maxSocketPath {
			break
		}
		best = p
	}
	return best
}

// waitForFile polls until path exists, ctx ends, gone closes or timeout.
func waitForFile(ctx context.Context, path string, gone <-chan struct{}, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-gone:
			return fmt.Errorf("process exited before creating %s", filepath.Base(path))
		case <-deadline.C:
			return fmt.Errorf("%s not created within %v", filepath.Base(path), timeout)
		case <-tick.C:
		}
	}
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
