package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pier-vm/pier/engine/vnet/netd"
)

// `pierd net-helper --dir DIR` serves the network in DIR until asked to
// stop; it is hidden from the help and refuses to run without --dir.
func TestNetHelperCommand(t *testing.T) {
	cmd := newRootCommand()
	cmd.SetArgs([]string{"net-helper"})
	cmd.SetOut(io.Discard)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--dir is required") {
		t.Fatalf("without --dir: %v", err)
	}
	for _, c := range cmd.Commands() {
		if c.Name() == "net-helper" && !c.Hidden {
			t.Error("net-helper is listed in the help")
		}
	}

	dir := t.TempDir()
	cfg := `{"subnet":"172.28.0.0/16","gateway":"172.28.0.1","upstream":"127.0.0.1:1"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = newRootCommand()
	cmd.SetArgs([]string{"net-helper", "--dir", dir})
	done := make(chan error, 1)
	go func() { done <- cmd.Execute() }()
	var c *netd.Client
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		if c, err = netd.Connect(context.Background(), dir); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helper does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Config().Gateway.String(); got != "172.28.0.1" || c.Pid() != os.Getpid() {
		t.Fatalf("helper serves gateway %s, pid %d", got, c.Pid())
	}
	if err := c.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("net-helper: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("net-helper did not return after stop")
	}
	if helper, err := netHelper(); err != nil || len(helper) != 2 || helper[1] != "net-helper" {
		t.Fatalf("helper command %q, %v", helper, err)
	}
}

// pierd runs the pier-net-helper beside its binary when there is one, and
// its own net-helper subcommand when not.
func TestNetHelperPrefersTheBinaryBesidePierd(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(filepath.Dir(exe), netHelperBinary)
	if _, err := os.Stat(own); err == nil {
		t.Fatalf("%s exists beside the test binary already", own)
	}
	got, err := netHelper()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != exe || got[1] != netHelperCommand {
		t.Errorf("without %s: %q, want [%s net-helper]", netHelperBinary, got, exe)
	}
	if err := os.WriteFile(own, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(own)
	got, err = netHelper()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != own {
		t.Errorf("with %s beside pierd: %q", netHelperBinary, got)
	}
}
