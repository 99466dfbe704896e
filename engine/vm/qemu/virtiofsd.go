package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
		"--socket-path=" + socket,
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
