//go:build !darwin

package main

import "errors"

// macOSVersion: this is not macOS.
func macOSVersion() (string, error) { return "", errors.New("not macOS") }
