package emulation

import (
	"errors"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

func TestDecide(t *testing.T) {
	amd64 := platform.Platform{OS: "linux", Architecture: "amd64"}
	arm64 := platform.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	withQEMU := Capabilities{Driver: "qemu", QEMUUser: map[string]string{"arm64": "/usr/bin/qemu-aarch64-static", "amd64": "/usr/bin/qemu-x86_64-static"}}
	cases := []struct {
		name      string
		host, img platform.Platform
		caps      Capabilities
		want      Plan
		errHas    string
	}{
		{"native amd64", amd64, amd64, Capabilities{Driver: "qemu"}, Plan{Kind: None}, ""},
		{"native arm64 on vz", arm64, arm64, Capabilities{Driver: "vz"}, Plan{Kind: None}, ""},
		{"arm64 on amd64 with qemu-user", amd64, arm64, withQEMU, Plan{Kind: QEMUUser, Arch: "arm64", EmulatorPath: "/usr/bin/qemu-aarch64-static", Interpreter: "qemu-aarch64-static"}, ""},
		{"arm64 on amd64 without qemu-user", amd64, arm64, Capabilities{Driver: "qemu"}, Plan{}, "qemu-aarch64-static was not found; install qemu-user-static"},
		{"amd64 on arm64 linux", arm64, amd64, withQEMU, Plan{Kind: QEMUUser, Arch: "amd64", EmulatorPath: "/usr/bin/qemu-x86_64-static", Interpreter: "qemu-x86_64-static"}, ""},
		{"amd64 on vz with rosetta", arm64, amd64, Capabilities{Driver: "vz", Rosetta: RosettaInstalled}, Plan{Kind: Rosetta, Arch: "amd64", Interpreter: "rosetta"}, ""},
		{"amd64 on vz without rosetta", arm64, amd64, Capabilities{Driver: "vz", Rosetta: RosettaNotInstalled}, Plan{}, "softwareupdate --install-rosetta --agree-to-license"},
		{"amd64 on vz unsupported", arm64, amd64, Capabilities{Driver: "vz", Rosetta: RosettaUnsupported}, Plan{}, "macOS 13"},
		{"arm64 on intel mac", amd64, arm64, Capabilities{Driver: "vz"}, Plan{}, "emulating arm64 on an Intel Mac is not supported"},
	}
	for _, tc := range cases {
		got, err := Decide(tc.host, tc.img, tc.caps)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) || !errdefs.IsInvalidParameter(err) {
				t.Errorf("%s: err %v, want invalid parameter containing %q", tc.name, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %+v %v, want %+v", tc.name, got, err, tc.want)
		}
	}
}

func TestFindQEMUUser(t *testing.T) {
	amd64 := platform.Platform{OS: "linux", Architecture: "amd64"}
	look := func(name string) (string, error) {
		if name == "qemu-aarch64-static" {
			return "/x/" + name, nil
		}
		return "", errors.New("not found")
	}
	got := FindQEMUUser(amd64, look)
	if len(got) != 1 || got["arm64"] != "/x/qemu-aarch64-static" {
		t.Fatalf("got %v", got)
	}
	if got := FindQEMUUser(amd64, func(string) (string, error) { return "", errors.New("no") }); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}
