package vz

import (
	"context"
	"strings"
	"testing"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/errdefs"
)

func TestCheckRosetta(t *testing.T) {
	cases := []struct {
		avail rosettaAvailability
		kind  errdefs.Kind
		want  string
	}{
		{rosettaInstalled, errdefs.KindUnknown, ""},
		{rosettaNotInstalled, errdefs.KindUnavailable, "softwareupdate --install-rosetta --agree-to-license"},
		{rosettaNotSupported, errdefs.KindNotImplemented, "reports Rosetta for Linux as not supported"},
	}
	for _, c := range cases {
		err := checkRosetta(c.avail)
		if c.want == "" {
			if err != nil {
				t.Errorf("availability %d: %v", c.avail, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("availability %d: got %v, want %q", c.avail, err, c.want)
		}
		if k := errdefs.KindOf(err); k != c.kind {
			t.Errorf("availability %d: kind %v, want %v", c.avail, k, c.kind)
		}
	}
}

// TestStartAsksRosettaFirst: a Rosetta share on a host without Rosetta
// fails in Start, before any shim runs, with the user's next step.
func TestStartAsksRosettaFirst(t *testing.T) {
	old := rosettaStatus
	defer func() { rosettaStatus = old }()
	rosettaStatus = func() rosettaAvailability { return rosettaNotInstalled }

	spec := testSpec(t)
	spec.Shares = []vm.Share{{Tag: "rosetta", Rosetta: true}}
	l := launcher{options: defaultOptions()}
	l.shimBinary = "/nonexistent/shim"
	_, err := l.start(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "softwareupdate --install-rosetta") {
		t.Fatalf("got %v", err)
	}
}

// TestCheckRosettaAsksTheHost: CheckRosetta goes through the seam.
func TestCheckRosettaAsksTheHost(t *testing.T) {
	old := rosettaStatus
	defer func() { rosettaStatus = old }()
	for avail, ok := range map[rosettaAvailability]bool{rosettaInstalled: true, rosettaNotInstalled: false, rosettaNotSupported: false} {
		rosettaStatus = func() rosettaAvailability { return avail }
		if err := CheckRosetta(); (err == nil) != ok {
			t.Errorf("availability %d: %v", avail, err)
		}
	}
}
