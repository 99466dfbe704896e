//go:build linux

// Command testinit is a tiny guest PID 1 for the VM driver tests. It mounts
// /proc, /sys and /dev, loads the modules listed in /pier/modules.list and
// then does what the kernel command line asks:
//
//	pier.probe=1        print "pier: probe ok" on the console, power off
//	pier.test=hang      sleep forever (for kill tests)
//	pier.test=report    write one line to the virtio port named "agent":
//	                    "release=<uname -r>", then " vda=<first 8 bytes of
//	                    /dev/vda>" with pier.disk=1, then " share=<content>"
//	                    and " write=ok|error" (creating a file there) with
//	                    pier.share=<tag>:<file>; wait for the host's
//	                    reply line, power off
//
// It is not the real guest init (guest/cmd/pier-init); it only exercises the
// driver.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	console, err := os.OpenFile("/dev/console", os.O_WRONLY, 0)
	if err != nil {
		console = os.Stdout
	}
	logf := func(format string, a ...any) { fmt.Fprintf(console, "testinit: "+format+"\n", a...) }
	if err := run(logf, console); err != nil {
		logf("error: %v", err)
	}
	powerOff()
}

func run(logf func(string, ...any), console *os.File) error {
	mountBasics(logf)
	args := cmdline()
	if err := loadModules(logf); err != nil {
		return err
	}
	if args["pier.probe"] == "1" {
		fmt.Fprintln(console, "pier: probe ok")
		return nil
	}
	switch args["pier.test"] {
	case "hang":
		logf("hanging")
		for {
			time.Sleep(time.Hour)
		}
	case "report":
		return report(logf, args)
	default:
		return fmt.Errorf("unknown pier.test=%q", args["pier.test"])
	}
}

func mountBasics(logf func(string, ...any)) {
	for _, m := range []struct{ fstype, target string }{
		{"proc", "/proc"}, {"sysfs", "/sys"}, {"devtmpfs", "/dev"},
	} {
		os.MkdirAll(m.target, 0o755)
		if err := unix.Mount(m.fstype, m.target, m.fstype, 0, ""); err != nil && err != unix.EBUSY {
			logf("mount %s: %v", m.target, err)
		}
	}
}

func cmdline() map[string]string {
	b, _ := os.ReadFile("/proc/cmdline")
	args := map[string]string{}
	for _, f := range strings.Fields(string(b)) {
		k, v, _ := strings.Cut(f, "=")
		args[k] = v
	}
	return args
}

func loadModules(logf func(string, ...any)) error {
	list, err := os.ReadFile("/pier/modules.list")
	if err != nil {
		return err
	}
	start := time.Now()
	for _, p := range strings.Fields(string(list)) {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && err != unix.EEXIST {
			return fmt.Errorf("load %s: %w", p, err)
		}
	}
	logf("modules loaded in %v", time.Since(start).Round(time.Millisecond))
	return nil
}

func report(logf func(string, ...any), args map[string]string) error {
	var uts unix.Utsname
	unix.Uname(&uts)
	line := "release=" + unix.ByteSliceToString(uts.Release[:])

	if args["pier.disk"] == "1" {
		if data, err := readPrefix(waitFor("/dev/vda"), 8); err == nil {
			line += " vda=" + data
		} else {
			line += " vda=error:" + err.Error()
		}
	}
	if spec := args["pier.share"]; spec != "" {
		tag, file, _ := strings.Cut(spec, ":")
		line += " share=" + readShare(tag, file) + " write=" + tryWrite("/mnt/"+tag)
	}

	port, err := agentPort()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(port, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	logf("reporting on %s", port)
	if _, err := fmt.Fprintln(f, line); err != nil {
		return err
	}
	reply, err := bufio.NewReader(f).ReadString('\n')
	logf("host replied %q (%v)", strings.TrimSpace(reply), err)
	return nil
}

func readShare(tag, file string) string {
	dir := "/mnt/" + tag
	os.MkdirAll(dir, 0o755)
	if err := unix.Mount(tag, dir, "virtiofs", 0, ""); err != nil {
		return "error:mount:" + err.Error()
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return "error:" + err.Error()
	}
	return strings.TrimSpace(string(b))
}

// tryWrite reports whether a file can be created in dir ("ok" or the error).
func tryWrite(dir string) string {
	err := os.WriteFile(filepath.Join(dir, "guest-wrote"), []byte("x"), 0o644)
	if err != nil {
		return "error"
	}
	return "ok"
}

// agentPort finds the virtio-serial port named "agent" (no udev, so no
// /dev/virtio-ports/agent symlink).
func agentPort() (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err == nil && strings.TrimSpace(string(b)) == "agent" {
				return waitFor("/dev/" + filepath.Base(filepath.Dir(n))), nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("no virtio port named agent")
}

func waitFor(path string) string {
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(path); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return path
}

func readPrefix(path string, n int) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.Read(buf); err != nil {
		return "", err
	}
	return strings.TrimRight(string(buf), "\x00"), nil
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour)
	}
}
