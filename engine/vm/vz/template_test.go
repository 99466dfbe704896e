package vz

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vm"
)

func testShape(t *testing.T) vm.Shape {
	spec := testSpec(t)
	return vm.Shape{Kernel: spec.Kernel, Initramfs: spec.Initramfs, MemoryMiB: 256, CPUs: 1, NICs: 1,
		Disks: []vm.DiskSlot{{ReadOnly: true, Serial: "pier-root", Size: 1 << 20}, {Serial: "pier-rw", Size: 2 << 20}}}
}

// TestTemplateSaveAndClone: a shim in save mode boots the template VM,
// waits for the guest's agent (it listens late here), saves it and
// exits; the directory then holds the state and the machine identifier
// and no placeholder or shim file. A clone restores from it, and its
// agent answers.
func TestTemplateSaveAndClone(t *testing.T) {
	l := testLauncher(t)
	shape := testShape(t)
	shape.Cmdline = "agent-late"
	dir := t.TempDir()
	if err := l.saveTemplate(context.Background(), shape, dir); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{TemplateStateName, TemplateMachineIDName} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("template file: %v", err)
		}
	}
	for _, n := range []string{"disk0.img", "disk1.img", shimFileName, controlSockName, agentSockName, shimPidName} {
		if _, err := os.Stat(filepath.Join(dir, n)); !os.IsNotExist(err) {
			t.Errorf("%s left in the template: %v", n, err)
		}
	}

	spec := testSpec(t)
	spec.Shares = nil
	spec.Cmdline = "agent-late"
	m, err := l.startClone(context.Background(), spec, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Kill()
	echo(t, m, "clone")
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, m)
}

// A template VM whose guest never becomes ready is not saved: the save
// ends with ctx, leaving no shim and no template files; a damaged
// template makes the clone fail (the template cache then boots cold).
func TestTemplateFaults(t *testing.T) {
	l := testLauncher(t)
	shape := testShape(t)
	shape.Cmdline = "no-agent"
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := l.saveTemplate(ctx, shape, dir)
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("save of a guest that is never ready: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, TemplateStateName)); !os.IsNotExist(err) {
		t.Fatalf("state left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, shimPidName)); !os.IsNotExist(err) {
		t.Fatalf("shim pid file left: %v", err)
	}

	shape.Cmdline = ""
	if err := l.saveTemplate(context.Background(), shape, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, TemplateStateName), []byte("truncated"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec := testSpec(t)
	spec.Shares = nil
	if _, err := l.startClone(context.Background(), spec, dir); err == nil || !strings.Contains(err.Error(), "not a saved fake vm") {
		t.Fatalf("clone of a damaged template: %v", err)
	}
	spec.Shares = []vm.Share{{Tag: "data", HostPath: dir}}
	if _, err := l.startClone(context.Background(), spec, dir); err == nil || !strings.Contains(err.Error(), "cannot have shares") {
		t.Fatalf("clone with a share: %v", err)
	}
}

// The key changes with what a saved VM depends on.
func TestTemplateKey(t *testing.T) {
	shape := testShape(t)
	k1, err := templateKey(shape, "14.5 23F79")
	if err != nil {
		t.Fatal(err)
	}
	if k2, _ := templateKey(shape, "14.5 23F79"); k2 != k1 {
		t.Fatal("key not stable")
	}
	if k, _ := templateKey(shape, "15.0 24A335"); k == k1 {
		t.Error("another macOS gives the same key")
	}
	other := shape
	other.NICs = 2
	if k, _ := templateKey(other, "14.5 23F79"); k == k1 {
		t.Error("another NIC count gives the same key")
	}
	if err := os.WriteFile(shape.Initramfs, []byte("another init"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k, _ := templateKey(shape, "14.5 23F79"); k == k1 {
		t.Error("another initramfs gives the same key")
	}
}
