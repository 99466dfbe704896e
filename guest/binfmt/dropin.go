package binfmt

// SystemdDropIn returns the binfmt.d file that makes systemd-binfmt register
// r again: at boot it flushes every rule binfmt_misc holds (writing -1 to
// its status file) and then loads /usr/lib/binfmt.d/*.conf. Because the
// rule has the F flag, systemd-binfmt opens the interpreter inside the
// container's root, so interpreter must be the emulator's stable path there
// (for example /opt/pier/emul/qemu-aarch64-static), not the init's
// pre-switch mount point.
func SystemdDropIn(r Rule, interpreter string) (path, content string) {
	r.Interpreter = interpreter
	return "/usr/lib/binfmt.d/" + r.Name + ".conf",
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
