package emulation

import "path"

// SystemdMode tells whether a container whose main process is args boots
// systemd: args[0] is /sbin/init (or /usr/sbin/init, its merged-/usr
// spelling) or a program called systemd (/lib/systemd/systemd,
// /usr/lib/systemd/systemd, or "systemd" looked up in PATH). Such a
// container runs systemd-binfmt, which flushes every binfmt_misc rule at
// boot, so an emulated one needs the emulator at a stable path inside its
// root and a binfmt.d drop-in naming it (see guest/binfmt.SystemdDropIn).
// Everything else keeps the emulator out of the container's view.
func SystemdMode(args []string) bool {
	if len(args) == 0 || args[0] == "" {
		return false
	}
	p := args[0]
	if path.IsAbs(p) {
		p = path.Clean(p)
		if p == "/sbin/init" || p == "/usr/sbin/init" {
			return true
		}
	}
	return path.Base(p) == "systemd"
}
