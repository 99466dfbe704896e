package platform

import (
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/errdefs"
)

var (
	amd64 = Platform{OS: "linux", Architecture: "amd64"}
	arm64 = Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
)

func TestParseAccepts(t *testing.T) {
	cases := []struct {
		in   string
		want Platform
	}{
		{"amd64", amd64},
		{"arm64", arm64},
		{"linux/amd64", amd64},
		{"linux/arm64", arm64},
		{"linux/arm64/v8", arm64},
		{"LINUX/AMD64", amd64},
		{"Linux/ARM64/V8", arm64},
		{"  linux/amd64\n", amd64},
		{"x86_64", amd64},
		{"linux/x86_64", amd64},
		{"linux/x86-64", amd64},
		{"aarch64", arm64},
		{"linux/aarch64", arm64},
		{"linux/aarch64/v8", arm64},
		{"linux/amd64/v1", amd64}, // accepted, variant dropped
		{"linux/x86_64/V1", amd64},
	}
	for _, tc := range cases {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		in      string
		mention string // a fragment the message must also contain
	}{
		{"", "empty"},
		{"   ", "empty"},
		{"windows/amd64", `"windows"`},
		{"darwin/arm64", `"darwin"`},
		{"linux/riscv64", `"riscv64"`},
		{"riscv64", `"riscv64"`},
		{"linux/arm", `"arm"`},
		{"linux/386", `"386"`},
		{"linux//", "os/arch"},
		{"linux/", "os/arch"},
		{"/amd64", "os/arch"},
		{"linux/amd64/", "os/arch"},
		{"linux/arm64/v7", `"v7"`},
		{"linux/amd64/v3", `"v3"`},
		{"a/b/c/d", "os/arch"},
		{"linux/amd64/v1/x", "os/arch"},
	}
	for _, tc := range cases {
		p, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want an error", tc.in, p)
			continue
		}
		if !errdefs.IsInvalidParameter(err) {
			t.Errorf("Parse(%q): %v is not an invalid-parameter error", tc.in, err)
		}
		msg := err.Error()
		for _, want := range []string{"linux/amd64", "linux/arm64/v8", tc.mention} {
			if !strings.Contains(msg, want) {
				t.Errorf("Parse(%q): message %q does not mention %q", tc.in, msg, want)
			}
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	cases := []struct {
		p    Platform
		want string
	}{
		{amd64, "linux/amd64"},
		{arm64, "linux/arm64/v8"},
	}
	for _, tc := range cases {
		if got := tc.p.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.p, got, tc.want)
		}
		back, err := Parse(tc.p.String())
		if err != nil || back != tc.p {
			t.Errorf("Parse(%q) = %#v, %v; want %#v", tc.p.String(), back, err, tc.p)
		}
	}
	for _, p := range Supported {
		if back, err := Parse(p.String()); err != nil || back != p {
			t.Errorf("supported %v does not round-trip: %#v, %v", p, back, err)
		}
	}
}

func TestFromV1(t *testing.T) {
	cases := []struct {
		in      v1.Platform
		want    Platform
		wantErr bool
	}{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, amd64, false},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, arm64, false},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, arm64, false},
		{v1.Platform{OS: "Linux", Architecture: "AArch64"}, arm64, false},
		{v1.Platform{OS: "linux", Architecture: "x86_64"}, amd64, false},
		{v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, amd64, false},
		{v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, Platform{}, true},
		{v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v7"}, Platform{}, true},
		{v1.Platform{OS: "windows", Architecture: "amd64", OSVersion: "10.0.17763.1234"}, Platform{}, true},
		{v1.Platform{OS: "unknown", Architecture: "unknown"}, Platform{}, true}, // attestation entries
		{v1.Platform{}, Platform{}, true},
	}
	for _, tc := range cases {
		got, err := FromV1(tc.in)
		if tc.wantErr {
			if err == nil || !errdefs.IsInvalidParameter(err) {
				t.Errorf("FromV1(%+v) = %v, %v; want an invalid-parameter error", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("FromV1(%+v) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
	for _, p := range Supported {
		if back, err := FromV1(p.V1()); err != nil || back != p {
			t.Errorf("FromV1(%v.V1()) = %#v, %v", p, back, err)
		}
	}
}

func TestMatches(t *testing.T) {
	cases := []struct {
		p     Platform
		entry v1.Platform
		want  bool
	}{
		{arm64, v1.Platform{OS: "linux", Architecture: "arm64"}, true}, // index entry without variant
		{arm64, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{arm64, v1.Platform{OS: "linux", Architecture: "aarch64"}, true},
		{arm64, v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v7"}, false},
		{arm64, v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, false},
		{arm64, v1.Platform{OS: "linux", Architecture: "amd64"}, false},
		{amd64, v1.Platform{OS: "linux", Architecture: "amd64"}, true},
		{amd64, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v1"}, true},
		{amd64, v1.Platform{OS: "linux", Architecture: "amd64", Variant: "v2"}, false},
		{amd64, v1.Platform{OS: "windows", Architecture: "amd64"}, false},
		{amd64, v1.Platform{OS: "unknown", Architecture: "unknown"}, false},
		{amd64, v1.Platform{OS: "linux", Architecture: "arm64"}, false},
	}
	for _, tc := range cases {
		if got := tc.p.Matches(tc.entry); got != tc.want {
			t.Errorf("%v.Matches(%+v) = %v, want %v", tc.p, tc.entry, got, tc.want)
		}
	}
}

func TestHost(t *testing.T) {
	want := map[string]Platform{"amd64": amd64, "arm64": arm64}[runtime.GOARCH]
	if want.IsZero() {
		t.Skipf("pier does not run on %s hosts", runtime.GOARCH)
	}
	if got := Host(); got != want {
		t.Fatalf("Host() = %#v on %s, want %#v", got, runtime.GOARCH, want)
	}
}

func TestNeedsEmulation(t *testing.T) {
	cases := []struct {
		img, host Platform
		want      bool
	}{
		{amd64, amd64, false},
		{arm64, arm64, false},
		{arm64, amd64, true},
		{amd64, arm64, true},
	}
	for _, tc := range cases {
		if got := tc.img.NeedsEmulation(tc.host); got != tc.want {
			t.Errorf("%v.NeedsEmulation(%v) = %v, want %v", tc.img, tc.host, got, tc.want)
		}
	}
}

func TestIsZero(t *testing.T) {
	if !(Platform{}).IsZero() || amd64.IsZero() {
		t.Fatal("IsZero is wrong")
	}
}
