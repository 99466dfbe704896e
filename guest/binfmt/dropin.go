package binfmt

// Systemd images. systemd-binfmt flushes every rule binfmt_misc holds at
// boot (it writes -1 to the status file) and then registers the rules of
// the binfmt.d directories, so for a container that boots systemd the guest
// init also mounts the emulator's share at SystemdEmulatorDir inside the
// container's root and drops a file into DropInDir that registers the same
// rule again, pointing there.
const (
	// SystemdEmulatorDir is where the emulator's share is mounted inside
	// the root of a systemd container: a stable path outside /run (which
	// systemd mounts a fresh tmpfs on).
	SystemdEmulatorDir = "/opt/pier/emul"
	// DropInDir is the vendor binfmt.d directory systemd-binfmt reads (a
	// file of the same name in /etc/binfmt.d would override ours).
	DropInDir = "/usr/lib/binfmt.d"
)

// SystemdDropIn returns the binfmt.d file, DropInDir/pier-<rule name>.conf,
// that makes systemd-binfmt register r again with interpreter instead of
// r.Interpreter. Because the rule has the F flag, the kernel opens the
// interpreter when systemd-binfmt registers it, inside the container's
// root, so interpreter must be the emulator's stable path there (for
// example /opt/pier/emul/qemu-aarch64-static), not the init's pre-switch
// mount point. The content is a comment and the register line (binfmt.d(5):
// one rule a line, '#' starts a comment).
func SystemdDropIn(r Rule, interpreter string) (path, content string) {
	r.Interpreter = interpreter
	return DropInDir + "/pier-" + r.Name + ".conf",
		"# Written by pier: run " + archOf(r.Magic) + " binaries with " + interpreter + ".\n" + r.RegisterLine() + "\n"
}

// archOf names the ELF machine a rule matches, for the drop-in's comment.
func archOf(magic []byte) string {
	switch string(magic) {
	case string(magicAMD64):
		return "x86-64"
	case string(magicARM64):
		return "aarch64"
	}
	return "foreign"
}
