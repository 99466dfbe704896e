package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/template"
)

// templaterDriver is a vm.Templater that may say templates cannot work
// on this host (as vz does before macOS 14).
type templaterDriver struct{ unsupported error }

func (templaterDriver) Name() string  { return "fake" }
func (templaterDriver) Accel() string { return "none" }
func (templaterDriver) Start(context.Context, vm.Spec) (vm.Machine, error) {
	return nil, errors.New("not used")
}
func (templaterDriver) TemplateKey(vm.Shape) (string, error)                 { return "k", nil }
func (templaterDriver) ShareSlots() int                                      { return 0 }
func (templaterDriver) SaveTemplate(context.Context, vm.Shape, string) error { return nil }
func (templaterDriver) StartClone(context.Context, vm.Spec, string) (vm.Machine, error) {
	return nil, errors.New("not used")
}
func (d templaterDriver) TemplatesSupported() error { return d.unsupported }

// withTemplates wraps a driver that can clone VMs here, and leaves alone
// one that says it cannot (every VM then boots cold without a warning per
// start), as it does with --vm-templates off.
func TestWithTemplatesAsksTheDriver(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := options{vmTemplates: "on", dataRoot: t.TempDir()}
	if _, ok := withTemplates(o, templaterDriver{}, log).(*template.Cache); !ok {
		t.Error("a driver that can clone is not wrapped")
	}
	old := templaterDriver{unsupported: errors.New("VM templates need macOS 14 or later")}
	if _, ok := withTemplates(o, old, log).(*template.Cache); ok {
		t.Error("a driver that cannot clone here is wrapped")
	}
	o.vmTemplates = "off"
	if _, ok := withTemplates(o, templaterDriver{}, log).(*template.Cache); ok {
		t.Error("wrapped with --vm-templates off")
	}
}
