//go:build linux

// Command pier-init is the guest's PID 1 (see package guest/init).
package main

import guestinit "github.com/pier-vm/pier/guest/init"

func main() { guestinit.Main() }
