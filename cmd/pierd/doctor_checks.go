package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/engine/emulation"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
	"github.com/pier-vm/pier/server"
)

func checkPlatform(env doctorEnv) finding {
	const name = "platform"
	p := env.goos + "/" + env.goarch
	switch {
	case env.goos == "linux" && (env.goarch == "amd64" || env.goarch == "arm64"):
		return ok(name, "%s: the QEMU driver", p)
	case env.goos == "darwin" && env.goarch == "arm64":
		return ok(name, "%s: the vz driver (Virtualization.framework)", p)
	case env.goos == "darwin":
		return fail(name, "%s: Apple silicon required (an M1 or later Mac)", p)
	}
	return fail(name, "%s: pier runs on linux/amd64, linux/arm64 and darwin/arm64", p)
}

// Linux.

func checkQEMU(env doctorEnv) finding {
	const name = "qemu"
	bin := qemu.SystemBinary(env.goarch)
	if bin == "" {
		return fail(name, "no QEMU system emulator for %s guests", env.goarch)
	}
	path, err := env.lookPath(bin)
	if err != nil {
		return fail(name, "%s not found: install %s (make deps)", bin, qemu.SystemPackage(env.goarch))
	}
	return ok(name, "%s", path)
}

func checkAccel(env doctorEnv) finding {
	const name = "kvm"
	accel, reason, err := env.settleAccel()
	switch {
	case err != nil:
		return warn(name, "cannot tell: %v", err)
	case accel == qemu.AccelKVM:
		return ok(name, "%s", reason)
	case env.accel == qemu.AccelTCG:
		return ok(name, "TCG, as --accel tcg asks")
	}
	return warn(name, "TCG fallback, guests run several times slower: %s", reason)
}

func checkVirtiofsd(env doctorEnv) finding {
	const name = "virtiofsd"
	fi, err := os.Stat(env.virtiofsd)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return warn(name, "%s missing: bind mounts and volumes cannot be served over virtio-fs (--vm-shares virtiofs, or a guest without 9p) (install qemu-system-common)", env.virtiofsd)
	}
	return ok(name, "%s", env.virtiofsd)
}

// checkEmulators reports, for each platform that is foreign here, whether
// its static qemu-user emulator is installed.
func checkEmulators(env doctorEnv) []finding {
	const name = "qemu-user-static"
	host := platform.Platform{OS: "linux", Architecture: env.goarch}
	found := emulation.FindQEMUUser(host, env.lookPath)
	var out []finding
	for _, p := range platform.Supported {
		if p.Architecture == env.goarch {
			continue
		}
		img := p.OS + "/" + p.Architecture
		if path := found[p.Architecture]; path != "" {
			out = append(out, ok(name, "%s images run under %s", img, path))
		} else {
			out = append(out, warn(name, "%s images cannot run: %s not found (install qemu-user-static)", img, emulation.QEMUBinary(p.Architecture)))
		}
	}
	return out
}

// macOS.

func checkMacOS(env doctorEnv) finding {
	const name = "macos"
	v, err := env.macOSVersion()
	if err != nil {
		return fail(name, "cannot read the macOS version: %v", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	switch {
	case major < 13:
		return fail(name, "macOS %s: the vz driver needs macOS 13 (Ventura) or later", v)
	case major < 14:
		return ok(name, "macOS %s (VM templates need 14 or later: containers boot cold)", v)
	}
	return ok(name, "macOS %s", v)
}

// virtualizationEntitlement is what Virtualization.framework requires of a
// process that creates VMs.
const virtualizationEntitlement = "com.apple.security.virtualization"

func checkEntitlement(env doctorEnv) finding {
	const name = "entitlement"
	out, err := env.entitlements()
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return warn(name, "cannot tell: codesign not found (xcode-select --install)")
	case err != nil:
		return fail(name, "not signed with %s: %v; run `make sign`", virtualizationEntitlement, err)
	case !strings.Contains(out, virtualizationEntitlement):
		return fail(name, "signed without %s: VMs cannot start; run `make sign`", virtualizationEntitlement)
	}
	return ok(name, "signed with %s", virtualizationEntitlement)
}

func checkRosetta(env doctorEnv) finding {
	const name = "rosetta"
	if err := env.rosetta(); err != nil {
		return warn(name, "linux/amd64 images cannot run: %v", err)
	}
	return ok(name, "installed: linux/amd64 images run under Rosetta")
}

// Everywhere.

func checkGuestAssets(env doctorEnv) finding {
	const name = "guest assets"
	inv, err := guestassets.Check(env.guestDir, env.goarch)
	if err != nil {
		return fail(name, "%v", err)
	}
	shares := "shares over virtio-fs only (no 9p modules)"
	if inv.NinePShares {
		shares = "shares over 9p or virtio-fs"
	}
	return ok(name, "kernel %s, %d %s (%s), pier-init in %s", inv.KernelRelease, inv.Modules, plural(inv.Modules, "module"), shares, env.guestDir)
}

func checkDataRoot(env doctorEnv) finding {
	const name = "data root"
	dir := env.dataRoot
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if anc := existingAncestor(dir); unix.Access(anc, unix.W_OK) != nil {
			return fail(name, "%s does not exist and %s is not writable by you (uid %d)", dir, anc, os.Geteuid())
		}
		return ok(name, "%s (pierd creates it)", dir)
	}
	if err != nil {
		return fail(name, "%v", err)
	}
	if !fi.IsDir() {
		return fail(name, "%s is not a directory", dir)
	}
	if unix.Access(dir, unix.W_OK) != nil {
		return fail(name, "%s is not writable by you (uid %d)", dir, os.Geteuid())
	}
	if daemonHoldsLock(dir) {
		return ok(name, "%s, in use by a running pierd", dir)
	}
	return ok(name, "%s", dir)
}

// daemonHoldsLock says whether a pierd holds dir's lock (lockDataRoot).
func daemonHoldsLock(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "pierd.lock"))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

func existingAncestor(p string) string {
	for {
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(p)
		if parent == p {
			return p
		}
		p = parent
	}
}

// checkSockets reports each API address: whether a daemon answers there,
// and for unix sockets who may connect.
func checkSockets(env doctorEnv) []finding {
	var out []finding
	for _, h := range env.hosts {
		out = append(out, checkSocket(env.goos, h))
	}
	return out
}

// maxSocketPath is the longest unix socket path (sun_path less its NUL).
func maxSocketPath(goos string) int {
	if goos == "darwin" {
		return 103
	}
	return 107
}

func checkSocket(goos, host string) finding {
	const name = "socket"
	proto, target, err := server.ParseAddr(host)
	if err != nil {
		return fail(name, "%v", err)
	}
	if proto != "unix" {
		if err := ping(proto, target); err != nil {
			return ok(name, "%s: no daemon answers yet (%v)", host, shortErr(err))
		}
		return ok(name, "%s: a Docker API daemon answers", host)
	}
	if n := len(target); n > maxSocketPath(goos) {
		return fail(name, "%s: the path is %d bytes, unix sockets allow %d here; choose a shorter -H", host, n, maxSocketPath(goos))
	}
	fi, err := os.Lstat(target)
	if errors.Is(err, os.ErrNotExist) {
		if anc := existingAncestor(filepath.Dir(target)); unix.Access(anc, unix.W_OK) != nil {
			return fail(name, "%s: no socket yet, and pierd cannot create one: %s is not writable by you (uid %d)", host, anc, os.Geteuid())
		}
		return ok(name, "%s: no daemon yet (pierd creates the socket)", host)
	}
	if err != nil {
		return fail(name, "%s: %v", host, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fail(name, "%s: %s exists and is not a socket", host, target)
	}
	owner := socketOwner(fi)
	err = ping(proto, target)
	switch {
	case err == nil:
		return ok(name, "%s: a Docker API daemon answers (%s)", host, owner)
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
		return warn(name, "%s: permission denied (%s): join its group or use sudo", host, owner)
	case errors.Is(err, syscall.ECONNREFUSED):
		return warn(name, "%s: stale socket, no daemon listens (pierd replaces it at start; %s)", host, owner)
	}
	return warn(name, "%s: does not answer /_ping (%s): %v", host, owner, shortErr(err))
}

// socketOwner describes a socket's owner, group and mode ("root:docker 0660").
func socketOwner(fi os.FileInfo) string {
	mode := fmt.Sprintf("%04o", fi.Mode().Perm())
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return mode
	}
	uid, gid := strconv.FormatUint(uint64(st.Uid), 10), strconv.FormatUint(uint64(st.Gid), 10)
	if u, err := user.LookupId(uid); err == nil {
		uid = u.Username
	}
	if g, err := user.LookupGroupId(gid); err == nil {
		gid = g.Name
	}
	return "owner " + uid + ":" + gid + ", mode " + mode
}

// ping asks the daemon at addr for GET /_ping, Docker's liveness check.
func ping(network, addr string) error {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: dial}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("http://pier/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %q", resp.Status, body)
	}
	return nil
}

// shortErr drops the request that net/http puts in front of an error.
func shortErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
