//go:build linux

package init

import (
	"bufio"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// loadModules loads each module listed in file, in order; one that is
// already loaded (or built in) is fine.
func loadModules(file string) {
	f, err := os.Open(file)
	if err != nil {
		logf("no module list: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		path := strings.TrimSpace(sc.Text())
		if path == "" {
			continue
		}
		if err := loadModule(path); err != nil {
			logf("load module %s: %v", path, err)
		}
	}
}

func loadModule(path string) error {
	m, err := os.Open(path)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := unix.FinitModule(int(m.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return err
	}
	return nil
}
