// Package sockpath makes unix socket paths short enough for sun_path: a
// socket whose path is too long (a deep data root) is reached through a
// short symbolic link to its directory, kept in a per-user directory
// under /tmp. Binding and dialing both go through the link.
package sockpath

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Max is the longest unix socket path macOS accepts: sun_path is 104
// bytes there, NUL included. Linux allows 107; the smaller bound applies
// everywhere so that tests here exercise the macOS case.
const Max = 103

// shortBase is the directory holding the short links; it is per user, so
// no other user can redirect a bind or a dial.
var shortBase = func() string { return filepath.Join("/tmp", "pier-"+strconv.Itoa(os.Getuid())) }

// For returns a path by which the socket name in dir can be bound or
// dialed: dir/name itself when short enough, else the same socket reached
// through a short symbolic link to dir (<base>/<hash of dir>/name).
func For(dir, name string) (string, error) {
	p := filepath.Join(dir, name)
	if len(p) <= Max {
		return p, nil
	}
	link, err := shortLink(dir)
	if err != nil {
		return "", fmt.Errorf("socket %s: path is %d bytes, over the limit of %d, and no short link: %w", p, len(p), Max, err)
	}
	p = filepath.Join(link, name)
	if len(p) > Max {
		return "", fmt.Errorf("socket %s: path is %d bytes, over the limit of %d", p, len(p), Max)
	}
	return p, nil
}

// LinkPath is where dir's short link is (or would be).
func LinkPath(dir string) string { return filepath.Join(shortBase(), linkName(dir)) }

// RemoveLink deletes dir's short link, if there is one pointing to dir.
func RemoveLink(dir string) {
	link := LinkPath(dir)
	if target, err := os.Readlink(link); err == nil && target == dir {
		_ = os.Remove(link)
	}
}

// linkName is the link's name for dir: stable, short, and distinct for
// distinct directories.
func linkName(dir string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(dir)))
	return hex.EncodeToString(sum[:8])
}

// shortLink makes (or reuses) the link <base>/<hash> -> dir.
func shortLink(dir string) (string, error) {
	base := shortBase()
	if err := privateDir(base); err != nil {
		return "", err
	}
	link := filepath.Join(base, linkName(dir))
	if target, err := os.Readlink(link); err == nil && target == dir {
		return link, nil
	}
	tmp := link + ".tmp" + strconv.Itoa(os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(dir, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return link, nil
}

// privateDir makes sure dir exists, is a real directory owned by this user
// and is closed to everyone else.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if owner, ok := fileOwner(fi); ok && owner != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not to this user", dir, owner)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is open to other users (mode %v)", dir, fi.Mode().Perm())
	}
	return nil
}

// fileOwner returns the uid owning fi's file.
func fileOwner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
