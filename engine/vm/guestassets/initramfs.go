package guestassets

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// layoutVersion changes whenever the archive layout changes, so that cached
// archives of an older layout are not reused.
const layoutVersion = "pier-initramfs-2"

// member is one regular file of the initramfs.
type member struct {
	name string // inside the archive, no leading slash
	src  string // host file; empty when data is set
	data []byte
	perm uint32
}

// buildCached returns the path of the initramfs for initPath and mods in
// cacheDir, building it if no archive of the same content is there yet.
func buildCached(cacheDir, initPath string, mods *moduleSet) (string, error) {
	members := []member{{name: "init", src: initPath, perm: 0o755}}
	if busybox := filepath.Join(filepath.Dir(mods.dir), "..", BusyboxName); fileExists(busybox) {
		members = append(members, member{name: strings.TrimPrefix(BusyboxPath, "/"), src: busybox, perm: 0o755})
	}
	for _, rel := range mods.ordered {
		members = append(members, member{
			name: strings.TrimPrefix(mods.guestPath(rel), "/"),
			src:  filepath.Join(mods.dir, filepath.FromSlash(rel)),
			perm: 0o644,
		})
	}
	list := strings.Join(mods.guestPaths(), "\n") + "\n"
	members = append(members, member{
		name: strings.TrimPrefix(ModulesListPath, "/"),
		data: []byte(list),
		perm: 0o644,
	})

	sum, err := contentHash(members)
	if err != nil {
		return "", err
	}
	out := filepath.Join(cacheDir, "initramfs-"+sum[:32]+".cpio")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", err
	}
	if err := writeAtomic(out, func(w io.Writer) error { return writeInitramfs(w, members) }); err != nil {
		return "", fmt.Errorf("build initramfs: %w", err)
	}
	return out, nil
}

// contentHash hashes the layout version and every member's name, mode and
// content.
func contentHash(members []member) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", layoutVersion)
	for _, m := range members {
		fmt.Fprintf(h, "%s %o\n", m.name, m.perm)
		if err := copyMember(h, m); err != nil {
			return "", err
		}
		// Separate members so that moving bytes between them changes the hash.
		fmt.Fprintf(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeInitramfs writes the directories, /dev/console (the kernel opens it
// for init's stdio before anything can mount devtmpfs) and the members.
func writeInitramfs(w io.Writer, members []member) error {
	cw := newCPIOWriter(w)
	dirs := map[string]bool{"dev": true, "proc": true, "sys": true, "run": true, "tmp": true, "mnt": true}
	for _, m := range members {
		for d := path.Dir(m.name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // parents sort before their children
	for _, d := range names {
		perm := uint32(0o755)
		if d == "tmp" {
			perm = 0o1777
		}
		if err := cw.writeHeader(cpioEntry{name: d, mode: modeDir | perm}); err != nil {
			return err
		}
	}
	if err := cw.writeHeader(cpioEntry{name: "dev/console", mode: modeChar | 0o600, rdevMajor: 5, rdevMinor: 1}); err != nil {
		return err
	}
	for _, m := range members {
		size, err := memberSize(m)
		if err != nil {
			return err
		}
		if err := cw.writeHeader(cpioEntry{name: m.name, mode: modeReg | m.perm, size: size}); err != nil {
			return err
		}
		if err := copyMember(cw, m); err != nil {
			return err
		}
	}
	return cw.Close()
}

func memberSize(m member) (int64, error) {
	if m.src == "" {
		return int64(len(m.data)), nil
	}
	fi, err := os.Stat(m.src)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", m.src)
	}
	return fi.Size(), nil
}

func copyMember(w io.Writer, m member) error {
	if m.src == "" {
		_, err := w.Write(m.data)
		return err
	}
	f, err := os.Open(m.src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// writeAtomic writes path through a temporary file in the same directory
// and a rename: readers see the old file or the complete new one, and
// concurrent writers of the same content race harmlessly.
func writeAtomic(path string, fill func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fill(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
