package main

import (
	"strings"
	"testing"
)

func TestDaemonIDIsStable(t *testing.T) {
	dir := t.TempDir()
	a, err := daemonID(dir)
	if err != nil || len(a) != 36 {
		t.Fatalf("first ID %q: %v", a, err)
	}
	b, err := daemonID(dir)
	if err != nil || a != b {
		t.Fatalf("second ID %q (%v), want %q", b, err, a)
	}
	if c, _ := daemonID(t.TempDir()); c == a {
		t.Fatal("two data roots share an ID")
	}
}

func TestFlags(t *testing.T) {
	cmd := newRootCommand()
	err := cmd.ParseFlags([]string{"-H", "unix:///tmp/a.sock", "--host", "tcp://127.0.0.1:2375",
		"--insecure-registry", "r1:5000", "--insecure-registry", "r2:5000", "--accel", "tcg", "--data-root", "/d"})
	if err != nil {
		t.Fatal(err)
	}
	hosts, _ := cmd.Flags().GetStringArray("host")
	regs, _ := cmd.Flags().GetStringArray("insecure-registry")
	accel, _ := cmd.Flags().GetString("accel")
	if strings.Join(hosts, ",") != "unix:///tmp/a.sock,tcp://127.0.0.1:2375" || len(regs) != 2 || accel != "tcg" {
		t.Fatalf("hosts %v, registries %v, accel %q", hosts, regs, accel)
	}
	if d, _ := cmd.Flags().GetString("data-root"); d != "/d" {
		t.Fatalf("data-root %q", d)
	}
}

func TestLogLevel(t *testing.T) {
	if _, err := newLogger("debug"); err != nil {
		t.Fatal(err)
	}
	if _, err := newLogger("loud"); err == nil || !strings.Contains(err.Error(), "--log-level") {
		t.Fatalf("bad level: %v", err)
	}
}

func TestValidate(t *testing.T) {
	ok := options{hosts: []string{"unix:///tmp/x.sock"}, accel: "auto", logLevel: "info"}
	if err := ok.validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []options{
		{hosts: ok.hosts, accel: "hvf", logLevel: "info"},
		{hosts: []string{"fd://"}, accel: "tcg", logLevel: "info"},
		{hosts: []string{"unix://rel.sock"}, accel: "tcg", logLevel: "info"},
		{hosts: ok.hosts, accel: "tcg", logLevel: "chatty"},
	} {
		if err := bad.validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
