package vz

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestStopVM: the guest powers off through its agent (a clean end, long
// before the grace period); a guest that does not power off, or an agent
// that never listens, is stopped hard after a bounded wait; a hard stop
// that never completes does not hold stopVM past its bounds.
func TestStopVM(t *testing.T) {
	times := stopTimes{agent: 300 * time.Millisecond, grace: 300 * time.Millisecond, kill: 200 * time.Millisecond}
	cases := []struct {
		cmdline string
		wantErr string // of stopVM
		vmErr   string // of the VM's end; "" for a clean power-off
		within  time.Duration
	}{
		{cmdline: "", within: 200 * time.Millisecond},
		{cmdline: "ignore-shutdown", vmErr: "stopped hard", within: 700 * time.Millisecond},
		{cmdline: "no-agent", vmErr: "stopped hard", within: 700 * time.Millisecond},
		{cmdline: "ignore-shutdown kill-hangs", wantErr: "hard stop did not complete", within: 1200 * time.Millisecond},
	}
	for _, c := range cases {
		v := newFakeVM(c.cmdline)
		start := time.Now()
		err := stopVM(v, times, nil, slog.Default())
		took := time.Since(start)
		if took > c.within {
			t.Errorf("%q: stopVM took %v, want at most %v", c.cmdline, took, c.within)
		}
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: got %v, want %q", c.cmdline, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.cmdline, err)
			continue
		}
		if !isClosed(v.Done()) {
			t.Errorf("%q: the vm did not end", c.cmdline)
			continue
		}
		if got := errString(v.Err()); got != c.vmErr {
			t.Errorf("%q: the vm ended with %q, want %q", c.cmdline, got, c.vmErr)
		}
	}
}
