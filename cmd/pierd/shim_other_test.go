//go:build !(darwin && arm64)

package main

import (
	"io"
	"strings"
	"testing"
)

func TestShimCommandOffApple(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetArgs([]string{"vz-shim", "--state-dir", t.TempDir()})
	cmd.SetOut(io.Discard)
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), "needs macOS on Apple silicon") {
		t.Fatalf("vz-shim on this platform: %v", err)
	}
	for _, c := range cmd.Commands() {
		if c.Name() == "vz-shim" && !c.Hidden {
			t.Error("vz-shim is listed in the help")
		}
	}
}
