// Package vz is the macOS driver: each VM is an Apple Virtualization.framework
// machine (through github.com/Code-Hex/vz/v3) owned by its own shim process,
// `pierd vz-shim --state-dir DIR`, started in a session of its own so that
// VMs outlive a daemon restart and only the shim needs the
// com.apple.security.virtualization entitlement.
//
// The daemon and a shim meet in the VM's StateDir:
//
//	spec.json   the VM's Spec, written atomically by the driver (config.go)
//	shim.json   how to reach the running shim: version, protocol, sockets, pid
//	ctl.sock    the control socket: state, stop, kill, wait, pause, resume
//	            (control.go)
//	agent.sock  the guest agent's channel: each connection is bridged to
//	            a vsock connection of its own to the agent's port
//	            (agentbridge.go)
//	shim.log    the shim's own output; console.log is the guest console
//
// Only the files named *_darwin_arm64.go touch Virtualization.framework;
// everything else builds and is tested on Linux too, and check-darwin
// type-checks the rest.
package vz
