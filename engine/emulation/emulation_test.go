package emulation

import (
	"errors"
	"maps"
	"testing"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

var (
	amd64 = platform.Platform{OS: "linux", Architecture: "amd64"}
	arm64 = platform.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

func TestDecide(t *testing.T) {
	const (
		aarch64Emu = "/usr/bin/qemu-aarch64-static"
		x8664Emu   = "/usr/bin/qemu-x86_64-static"
		notFound   = "the static emulator %s was not found; install qemu-user-static (apt-get install qemu-user-static)"
	)
	qemu := Capabilities{Driver: "qemu", QEMUUser: map[string]string{"arm64": aarch64Emu, "amd64": x8664Emu}}
	cases := []struct {
		name      string
		host, img platform.Platform
		caps      Capabilities
		want      Plan
		wantErr   string
	}{
		{name: "native amd64 on amd64", host: amd64, img: amd64, caps: Capabilities{Driver: "qemu"}},
		{name: "native arm64 on arm64 linux", host: arm64, img: arm64, caps: qemu},
		{name: "native arm64 on vz", host: arm64, img: arm64, caps: Capabilities{Driver: "vz", Rosetta: RosettaNotInstalled}},
		{name: "native amd64 on an Intel Mac", host: amd64, img: amd64, caps: Capabilities{Driver: "vz"}},
		{
			name: "arm64 on amd64 with qemu-aarch64-static", host: amd64, img: arm64, caps: qemu,
			want: Plan{Kind: QEMUUser, Arch: "arm64", EmulatorPath: aarch64Emu, ShareTag: "pier-emul",
				Interpreter: "qemu-aarch64-static", InterpreterPathInGuest: "/pier/emul/qemu-aarch64-static"},
		},
		{
			name: "arm64 on amd64 without an emulator", host: amd64, img: arm64, caps: Capabilities{Driver: "qemu"},
			wantErr: "cannot run linux/arm64 image on linux/amd64 host: the static emulator qemu-aarch64-static was not found; install qemu-user-static (apt-get install qemu-user-static)",
		},
		{
			name: "arm64 on amd64 with only the other emulator", host: amd64, img: arm64,
			caps:    Capabilities{Driver: "qemu", QEMUUser: map[string]string{"amd64": x8664Emu}},
			wantErr: "cannot run linux/arm64 image on linux/amd64 host: the static emulator qemu-aarch64-static was not found; install qemu-user-static (apt-get install qemu-user-static)",
		},
		{
			name: "amd64 on arm64 linux with qemu-x86_64-static", host: arm64, img: amd64, caps: qemu,
			want: Plan{Kind: QEMUUser, Arch: "amd64", EmulatorPath: x8664Emu, ShareTag: "pier-emul",
				Interpreter: "qemu-x86_64-static", InterpreterPathInGuest: "/pier/emul/qemu-x86_64-static"},
		},
		{
			name: "amd64 on arm64 linux without an emulator", host: arm64, img: amd64, caps: Capabilities{Driver: "qemu", QEMUUser: map[string]string{"amd64": ""}},
			wantErr: "cannot run linux/amd64 image on linux/arm64 host: the static emulator qemu-x86_64-static was not found; install qemu-user-static (apt-get install qemu-user-static)",
		},
		{
			name: "amd64 on vz with Rosetta installed", host: arm64, img: amd64, caps: Capabilities{Driver: "vz", Rosetta: RosettaInstalled},
			want: Plan{Kind: Rosetta, Arch: "amd64", ShareTag: "pier-emul", Interpreter: "rosetta", InterpreterPathInGuest: "/pier/emul/rosetta"},
		},
		{
			name: "amd64 on vz with Rosetta installed ignores qemu-user", host: arm64, img: amd64,
			caps: Capabilities{Driver: "vz", Rosetta: RosettaInstalled, QEMUUser: map[string]string{"amd64": x8664Emu}},
			want: Plan{Kind: Rosetta, Arch: "amd64", ShareTag: "pier-emul", Interpreter: "rosetta", InterpreterPathInGuest: "/pier/emul/rosetta"},
		},
		{
			name: "amd64 on vz with Rosetta not installed", host: arm64, img: amd64, caps: Capabilities{Driver: "vz", Rosetta: RosettaNotInstalled},
			wantErr: "cannot run linux/amd64 image on linux/arm64 host: Rosetta is not installed: run softwareupdate --install-rosetta --agree-to-license",
		},
		{
			name: "amd64 on vz with Rosetta unsupported", host: arm64, img: amd64, caps: Capabilities{Driver: "vz", Rosetta: RosettaUnsupported},
			wantErr: "cannot run linux/amd64 image on linux/arm64 host: Rosetta is not available: it needs Apple silicon and macOS 13 or later",
		},
		{
			name: "arm64 on an Intel Mac", host: amd64, img: arm64, caps: Capabilities{Driver: "vz", QEMUUser: map[string]string{"arm64": aarch64Emu}},
			wantErr: "cannot run linux/arm64 image on linux/amd64 host: emulating arm64 on an Intel Mac is not supported",
		},
		{
			name: "unvalidated image platform", host: amd64, img: platform.Platform{OS: "linux", Architecture: "riscv64"}, caps: qemu,
			wantErr: `unsupported platform "linux/riscv64"`,
		},
		{
			name: "zero image platform", host: amd64, img: platform.Platform{}, caps: qemu,
			wantErr: `unsupported platform "/"`,
		},
	}
	for _, tc := range cases {
		got, err := Decide(tc.host, tc.img, tc.caps)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr || !errdefs.IsInvalidParameter(err) {
				t.Errorf("%s: got %+v, %v;\nwant the invalid-parameter error %q", tc.name, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v, %v;\nwant %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestFindQEMUUser(t *testing.T) {
	onPath := func(names ...string) func(string) (string, error) {
		return func(name string) (string, error) {
			for _, n := range names {
				if n == name {
					return "/usr/bin/" + name, nil
				}
			}
			return "", errors.New("executable file not found in $PATH")
		}
	}
	cases := []struct {
		name string
		host platform.Platform
		look func(string) (string, error)
		want map[string]string
	}{
		{"amd64 host, both installed", amd64, onPath("qemu-aarch64-static", "qemu-x86_64-static"),
			map[string]string{"arm64": "/usr/bin/qemu-aarch64-static"}},
		{"arm64 host, both installed", arm64, onPath("qemu-aarch64-static", "qemu-x86_64-static"),
			map[string]string{"amd64": "/usr/bin/qemu-x86_64-static"}},
		{"amd64 host, only the native one", amd64, onPath("qemu-x86_64-static"), map[string]string{}},
		{"nothing installed", amd64, onPath(), map[string]string{}},
		{"look-up answers an empty path", amd64, func(string) (string, error) { return "", nil }, map[string]string{}},
	}
	for _, tc := range cases {
		if got := FindQEMUUser(tc.host, tc.look); !maps.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestQEMUBinary(t *testing.T) {
	// Debian's qemu-user-static names, by the kernel's machine names.
	cases := map[string]string{"amd64": "qemu-x86_64-static", "arm64": "qemu-aarch64-static", "riscv64": "qemu-riscv64-static"}
	for arch, want := range cases {
		if got := QEMUBinary(arch); got != want {
			t.Errorf("QEMUBinary(%q) = %q, want %q", arch, got, want)
		}
	}
}
