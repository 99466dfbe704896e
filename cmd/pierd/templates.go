package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/pier-vm/pier/engine/vm"
	"github.com/pier-vm/pier/engine/vm/template"
	"github.com/pier-vm/pier/engine/vmruntime"
)

// templatesDir is where the template VMs live under the data root.
func templatesDir(dataRoot string) string { return filepath.Join(dataRoot, "templates") }

// templateSupport is a Templater that can tell at start that this host
// cannot save and restore VMs (vz before macOS 14).
type templateSupport interface {
	TemplatesSupported() error
}

// withTemplates wraps drv in a template cache (engine/vm/template) when
// the driver can clone VMs on this host and --vm-templates is on; stale
// templates (of another QEMU, kernel or initramfs) and half-made ones are
// removed first.
func withTemplates(o options, drv vm.Driver, log *slog.Logger) vm.Driver {
	t, ok := drv.(vm.Templater)
	if !ok || o.vmTemplates == "off" {
		return drv
	}
	if s, ok := drv.(templateSupport); ok {
		if err := s.TemplatesSupported(); err != nil {
			log.Info("vm templates off: every VM boots cold", "reason", err)
			return drv
		}
	}
	c := template.New(t, templatesDir(o.dataRoot), log)
	c.Sweep()
	return c
}

// prepareTemplates makes the template of the common shape (a container
// with default resources on one network) in the background, so the first
// `docker run` finds it ready.
func prepareTemplates(rt *vmruntime.Runtime, log *slog.Logger) {
	c, ok := rt.Driver().(*template.Cache)
	if !ok {
		return
	}
	go func() {
		if err := c.Prepare(context.Background(), rt.CommonShape()); err != nil {
			log.Warn("vm template for the common shape not made; containers boot cold", "err", err)
		}
	}()
}

// vmStart tells `docker info` how VMs start: "template" with the counts
// of clones, cold boots and fallbacks, or "cold".
func vmStart(rt *vmruntime.Runtime) func() (string, string) {
	c, ok := rt.Driver().(*template.Cache)
	if !ok {
		return nil
	}
	return func() (string, string) {
		s := c.Stats()
		return "template", fmt.Sprintf("cloned=%d,cold=%d,fallbacks=%d", s.Cloned, s.Cold, s.Fallbacks)
	}
}

// closeTemplates stops a template build in flight, so that no template VM
// outlives the daemon.
func closeTemplates(drv vm.Driver) {
	if c, ok := drv.(*template.Cache); ok {
		c.Close()
	}
}
