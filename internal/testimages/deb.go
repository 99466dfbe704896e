package testimages

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// ErrMissingPrerequisite marks a build that cannot run on this machine: the
// .deb files have not been fetched, or a needed tool is absent.
var ErrMissingPrerequisite = errors.New("test image prerequisite missing")

// debPath returns the busybox-static package for arch in dir.
func debPath(dir, arch string) (string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "busybox-static_*_"+arch+".deb"))
	if err != nil {
		return "", err
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("%w: no busybox-static_*_%s.deb in %s", ErrMissingPrerequisite, arch, dir)
	}
	// Several versions may pile up in the cache: the glob is sorted, take the last.
	return matches[len(matches)-1], nil
}

// busyboxFromDeb returns the contents of /bin/busybox in the package.
func busyboxFromDeb(deb string) ([]byte, error) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		return nil, fmt.Errorf("%w: dpkg-deb: %v", ErrMissingPrerequisite, err)
	}
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	bin, findErr := findInTar(out, "bin/busybox")
	// Drain the rest so dpkg-deb does not die of a broken pipe.
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %v: %s", deb, err, strings.TrimSpace(stderr.String()))
	}
	if findErr != nil {
		return nil, fmt.Errorf("%s: %w", deb, findErr)
	}
	return bin, nil
}

// findInTar returns the contents of the regular file name in the tar stream.
func findInTar(r io.Reader, name string) ([]byte, error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s not found", name)
		}
		if err != nil {
			return nil, err
		}
		if strings.TrimPrefix(hdr.Name, "./") == name && hdr.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// applets runs one of the busybox binaries (the one this host can execute)
// with --list and returns the applet names, "busybox" itself excluded. Both
// packages come from the same source and configuration, so one list serves
// both architectures.
func applets(byArch map[string][]byte) ([]string, error) {
	bin, ok := byArch[runtime.GOARCH]
	if !ok || runtime.GOOS != "linux" {
		return nil, fmt.Errorf("%w: cannot run a linux busybox on %s/%s to list its applets",
			ErrMissingPrerequisite, runtime.GOOS, runtime.GOARCH)
	}
	dir, err := os.MkdirTemp("", "pier-testimages-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// busybox picks the applet from argv[0], so the file must be named busybox.
	path := filepath.Join(dir, "busybox")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		return nil, err
	}
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		name := strings.TrimSpace(sc.Text())
		if name == "" || name == "busybox" || strings.Contains(name, "/") {
			continue
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, errors.New("busybox --list printed no applets")
	}
	return names, nil
}
