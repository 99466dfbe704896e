package main

import "syscall"

// macOSVersion is the product version, "14.5".
func macOSVersion() (string, error) { return syscall.Sysctl("kern.osproductversion") }
