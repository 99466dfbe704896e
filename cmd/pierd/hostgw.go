package main

import (
	"runtime"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/hostgw"
)

// hostGateways is the engine's hook that puts the networks' gateways on the
// host: Linux only (elsewhere clients reach published ports on localhost,
// and no client there believes it runs in a Linux container).
func hostGateways() engine.HostGateways {
	if runtime.GOOS != "linux" {
		return nil
	}
	return hostgw.Sync
}
