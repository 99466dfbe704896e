package main

import (
	"time"

	"github.com/pier-vm/pier/engine/vm/guestassets"
	"github.com/pier-vm/pier/engine/vm/template"
)

// checkTemplates reports the VM templates under the data root: how
// containers will start.
func checkTemplates(env doctorEnv) finding {
	const name = "vm templates"
	if env.vmTemplates == "off" {
		return ok(name, "off (--vm-templates off): every container boots its VM")
	}
	list := template.List(templatesDir(env.dataRoot))
	if len(list) == 0 {
		return ok(name, "none yet: pierd makes one per guest shape, at start and on first use (3-5 s under TCG); then %s", clonesScope(env))
	}
	var bytes int64
	newest := list[0].Created
	for _, t := range list {
		bytes += t.DiskBytes
		if t.Created.After(newest) {
			newest = t.Created
		}
	}
	return ok(name, "%d %s ready (%d MiB on disk, newest made %s ago): %s",
		len(list), plural(len(list), "template"), bytes>>20, time.Since(newest).Round(time.Second), clonesScope(env))
}

// clonesScope says which containers start as clones: with the QEMU driver
// and a guest with 9p (unless --vm-shares virtiofs), those with bind
// mounts or volumes too; else only those without.
func clonesScope(env doctorEnv) string {
	if env.goos == "linux" && env.vmShares != "virtiofs" {
		if inv, err := guestassets.Check(env.guestDir, env.goarch); err == nil && inv.NinePShares {
			return "containers start as clones (with bind mounts or volumes: up to 4, served over 9p)"
		}
	}
	return "containers without bind mounts or volumes start as clones"
}
