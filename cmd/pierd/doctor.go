package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/qemu"
	"github.com/pier-vm/pier/engine/vm/vz"
)

// status is a doctor check's verdict.
type status int

const (
	statusOK status = iota
	statusWarn
	statusFail
)

func (s status) String() string {
	switch s {
	case statusOK:
		return "ok"
	case statusWarn:
		return "warn"
	}
	return "fail"
}

// finding is one line of `pierd doctor`.
type finding struct {
	status status
	check  string
	detail string
}

func ok(check, format string, a ...any) finding {
	return finding{statusOK, check, fmt.Sprintf(format, a...)}
}

func warn(check, format string, a ...any) finding {
	return finding{statusWarn, check, fmt.Sprintf(format, a...)}
}

func fail(check, format string, a ...any) finding {
	return finding{statusFail, check, fmt.Sprintf(format, a...)}
}

// doctorEnv is the host as the checks see it: the settings pierd would
// run with, and seams for everything that asks the system.
type doctorEnv struct {
	goos, goarch string
	options
	// lookPath finds a program on the PATH (exec.LookPath).
	lookPath func(string) (string, error)
	// virtiofsd is the path the QEMU driver runs virtiofsd from.
	virtiofsd string
	// settleAccel settles the QEMU driver's acceleration as pierd would: from
	// the cached KVM probe verdict, or by a probe boot (up to 10 s) when
	// none is cached. It returns the accel and why.
	settleAccel func() (accel, reason string, err error)
	// macOSVersion is the product version ("14.5").
	macOSVersion func() (string, error)
	// entitlements is codesign's display of the running binary's
	// entitlements.
	entitlements func() (string, error)
	// rosetta is the vz driver's Rosetta check (vz.CheckRosetta).
	rosetta func() error
	// ports is what the published-ports check asks (Linux).
	ports portsEnv
}

// hostDoctorEnv is the real host.
func hostDoctorEnv(o options) doctorEnv {
	return doctorEnv{
		goos: runtime.GOOS, goarch: runtime.GOARCH, options: o,
		lookPath:     exec.LookPath,
		virtiofsd:    qemu.DefaultVirtiofsd,
		settleAccel:  func() (string, string, error) { return qemuAccel(o) },
		macOSVersion: macOSVersion,
		entitlements: codesignEntitlements,
		rosetta:      vz.CheckRosetta,
		ports:        hostPortsEnv(),
	}
}

// doctorChecks lists the checks for env's platform, in the order shown.
func doctorChecks(env doctorEnv) []func(doctorEnv) []finding {
	checks := []func(doctorEnv) []finding{one(checkPlatform)}
	switch env.goos {
	case "darwin":
		checks = append(checks, one(checkMacOS), one(checkEntitlement), one(checkRosetta), one(checkTemplates))
	default:
		checks = append(checks, one(checkQEMU), one(checkAccel), one(checkVirtiofsd), checkEmulators, one(checkPublishedPorts), one(checkTemplates))
	}
	return append(checks, one(checkGuestAssets), one(checkDataRoot), checkSockets, checkTLS)
}

func one(c func(doctorEnv) finding) func(doctorEnv) []finding {
	return func(env doctorEnv) []finding { return []finding{c(env)} }
}

// runDoctor prints each check's findings to w as they come and returns
// how many failed.
func runDoctor(w io.Writer, env doctorEnv) (failed int) {
	var warned, passed int
	for _, check := range doctorChecks(env) {
		for _, f := range check(env) {
			fmt.Fprintf(w, "%-4s  %-16s %s\n", f.status, f.check, f.detail)
			switch f.status {
			case statusOK:
				passed++
			case statusWarn:
				warned++
			default:
				failed++
			}
		}
	}
	fmt.Fprintf(w, "%d ok, %d %s, %d %s\n", passed, warned, plural(warned, "warning"), failed, plural(failed, "failure"))
	return failed
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func newDoctorCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run pierd, and say what to fix",
		Long: `doctor checks what pierd needs on this machine and prints one line per
check: ok, warn (pierd runs, with a limit that the line names) or fail
(pierd cannot run as configured). It exits non-zero when a check fails.
Give it the -H, --data-root, --guest-dir and --accel you give pierd.

On Linux: QEMU, KVM or the TCG fallback (from the cached probe verdict; a
probe boot of up to 10 s when none is cached), virtiofsd, the qemu-user
emulators. On macOS: the macOS version, the virtualization entitlement of
this binary, Rosetta. Everywhere: the guest kernel and init, the data root,
the API sockets, and how tcp:// hosts will be served (pierd's TLS flags).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.tls.noteChanged(cmd.Flags())
			if len(o.hosts) == 0 {
				o.hosts = []string{defaultHost()}
			}
			if n := runDoctor(cmd.OutOrStdout(), hostDoctorEnv(o)); n > 0 {
				return fmt.Errorf("doctor: %d %s failed", n, plural(n, "check"))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.hosts, "host", "H", nil, "address pierd serves the API on (repeatable; default "+defaultHost()+")")
	f.StringVar(&o.dataRoot, "data-root", defaultDataRoot(), "pierd's data root")
	f.StringVar(&o.accel, "accel", "auto", "pierd's --accel (Linux)")
	f.StringVar(&o.guestDir, "guest-dir", defaultGuestDir(), "directory with the guest kernel, modules and init")
	addTLSFlags(f, &o.tls)
	return cmd
}

// qemuAccel settles the acceleration with the QEMU driver itself, so the
// answer is pierd's: the cached probe verdict when it still applies (same
// QEMU, same kernel), else a probe boot, whose verdict is then cached.
func qemuAccel(o options) (string, string, error) {
	tmp, err := os.MkdirTemp("", "pierd-doctor-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(tmp)
	opts := []qemu.Option{
		qemu.WithAccel(o.accel),
		qemu.WithDataRoot(o.dataRoot),
		qemu.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	assets, assetsErr := guestassets.Prepare(o.guestDir, tmp)
	if assetsErr == nil {
		opts = append(opts, qemu.WithProbe(assets.Kernel, assets.Initramfs))
	}
	drv, err := qemu.New(opts...)
	if err != nil {
		if assetsErr != nil {
			err = fmt.Errorf("%w (no guest assets to probe KVM with)", err)
		}
		return "", "", err
	}
	return drv.Accel(), drv.AccelReason(), nil
}

// codesignEntitlements shows the running binary's entitlements.
func codesignEntitlements() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	if resolved, err := filepath.EvalSymlinks(exe); err == nil {
		exe = resolved
	}
	out, err := exec.Command("codesign", "--display", "--entitlements", "-", exe).CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s: %s", exe, strings.TrimSpace(string(out)))
		}
		return "", err
	}
	return string(out), nil
}
