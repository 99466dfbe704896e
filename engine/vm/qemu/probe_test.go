package qemu

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAutoProbesOnceAndCaches boots the probe under KVM (on this kind of
// machine KVM opens but cannot run the guest, so the verdict is TCG; on a
// host with working KVM it is KVM), then checks that a second driver takes
// the cached verdict without booting.
func TestAutoProbesOnceAndCaches(t *testing.T) {
	a := needAssets(t)
	if err := kvmUsable(); err != nil {
		t.Skipf("auto never probes without KVM: %v", err)
	}
	root := t.TempDir()
	newDriver := func() (*Driver, string) {
		var logs bytes.Buffer
		d, err := New(WithAccel(AccelAuto), WithProbe(a.Kernel, a.Initramfs), WithDataRoot(root),
			WithProbeTimeout(8*time.Second), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		return d, logs.String()
	}

	d1, logs1 := newDriver()
	if d1.Accel() != AccelKVM && d1.Accel() != AccelTCG {
		t.Fatalf("Accel = %q", d1.Accel())
	}
	if !strings.Contains(logs1, "probed KVM with a real boot") {
		t.Errorf("first driver did not probe; logs:\n%s", logs1)
	}
	b, err := os.ReadFile(filepath.Join(root, verdictFile))
	if err != nil {
		t.Fatal(err)
	}
	var v verdict
	if err := json.Unmarshal(b, &v); err != nil || v.Accel != d1.Accel() || v.KernelHash == "" || v.QEMUVersion == "" {
		t.Errorf("cached verdict %s (%v) does not match accel %s", b, err, d1.Accel())
	}
	if left, _ := filepath.Glob(filepath.Join(root, "kvm-probe-*")); len(left) > 0 {
		t.Errorf("probe state left behind: %v", left)
	}

	d2, logs2 := newDriver()
	if d2.Accel() != d1.Accel() {
		t.Errorf("second driver chose %s, first %s", d2.Accel(), d1.Accel())
	}
	if strings.Contains(logs2, "probed KVM") || !strings.Contains(logs2, "cached probe") {
		t.Errorf("second driver did not use the cached verdict; logs:\n%s", logs2)
	}
}

func TestAutoWithoutProbeAssetsIsAnError(t *testing.T) {
	if err := kvmUsable(); err != nil {
		t.Skipf("without KVM, auto needs no probe: %v", err)
	}
	if _, err := New(WithAccel(AccelAuto)); err == nil {
		t.Fatal("auto without WithProbe succeeded")
	}
}
