//go:build linux

package agent

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// extraction unpacks a tar into a directory of the container as dockerd
// does: entries land below the directory whatever their names say (".."
// stops at it), the directories an entry's name goes through are resolved
// inside the container's root, existing files are replaced and existing
// directories merged, owners, modes, times and file capabilities are kept.
type extraction struct {
	root string
	// dest is the extraction point: a directory, as a container path with
	// every symbolic link resolved.
	dest string
	opts proto.ExtractOptions
	// owner, when set, owns every file instead of the archive's owners.
	owner *Identity
	chown bool
}

// newExtraction checks that p is a directory (a symbolic link to one is
// followed) and resolves the owner of docker cp -a.
func (a *Agent) newExtraction(p string, opts proto.ExtractOptions) (*extraction, error) {
	host, err := resolve(a.root, p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return nil, pathError(p, err)
	}
	if !fi.IsDir() {
		return nil, invalidf("extraction point is not a directory")
	}
	x := &extraction{root: a.root, dest: inRoot(a.root, host), opts: opts, chown: a.setCredentials}
	if opts.ChownUser != "" {
		id, err := LookupUser(a.root, opts.ChownUser)
		if err != nil {
			return nil, invalidf("%v", err)
		}
		x.owner = &id
	}
	return x, nil
}

// extract reads the archive from r.
func (x *extraction) extract(r io.Reader) error {
	tr := tar.NewReader(r)
	type dirTimes struct {
		path  string
		mtime time.Time
		atime time.Time
	}
	var dirs []dirTimes
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if containerPath(hdr.Name) == "/" {
			// The extraction point itself: a directory, left as it is
			// (as dockerd does).
			if hdr.Typeflag != tar.TypeDir && x.opts.NoOverwriteDirNonDir {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", x.dest, hdr.Name)
			}
			continue
		}
		path, err := x.place(hdr.Name)
		if err != nil {
			return err
		}
		if err := x.create(path, hdr, tr); err != nil {
			return err
		}
		atime := hdr.AccessTime
		if atime.IsZero() {
			atime = hdr.ModTime
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, dirTimes{path, hdr.ModTime, atime})
			continue
		}
		if err := setTimes(path, atime, hdr.ModTime, hdr.Typeflag == tar.TypeSymlink); err != nil {
			return err
		}
	}
	// Directory times last: creating their entries changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setTimes(dirs[i].path, dirs[i].atime, dirs[i].mtime, false); err != nil {
			return err
		}
	}
	return nil
}

// place returns where the entry name goes: below dest, its directories
// resolved inside the root (created 0755 when missing), its last element
// not followed.
func (x *extraction) place(name string) (string, error) {
	rel := containerPath(name)
	parent, err := resolve(x.root, filepath.Join(x.dest, filepath.Dir(rel)))
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(parent); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return "", err
		}
	}
	return filepath.Join(parent, filepath.Base(rel)), nil
}

// create makes one entry at path, replacing what is there unless both
// are directories.
func (x *extraction) create(path string, hdr *tar.Header, content io.Reader) error {
	isDir := hdr.Typeflag == tar.TypeDir
	if fi, err := os.Lstat(path); err == nil {
		if x.opts.NoOverwriteDirNonDir {
			if fi.IsDir() && !isDir {
				return fmt.Errorf("cannot overwrite directory %q with non-directory %q", inRoot(x.root, path), hdr.Name)
			}
			if !fi.IsDir() && isDir {
				return fmt.Errorf("cannot overwrite non-directory %q with directory %q", inRoot(x.root, path), hdr.Name)
			}
		}
		if !fi.IsDir() || !isDir {
			if err := os.RemoveAll(path); err != nil {
				return err
			}
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := x.linkTarget(hdr.Linkname)
		if err != nil {
			return err
		}
		if err := os.Link(target, path); err != nil {
			return err
		}
	case tar.TypeSymlink:
		if x.escapes(path, hdr.Linkname) {
			return invalidf("invalid symlink %q -> %q", hdr.Name, hdr.Linkname)
		}
		if err := os.Symlink(hdr.Linkname, path); err != nil {
			return err
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		if err := unix.Mknod(path, kind|uint32(mode.Perm()), int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))); err != nil {
			return err
		}
	default:
		return invalidf("unhandled tar header type %d for %q", hdr.Typeflag, hdr.Name)
	}
	if err := x.setOwner(path, hdr); err != nil {
		return err
	}
	for k, v := range hdr.PAXRecords {
		if attr, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if err := unix.Lsetxattr(path, attr, []byte(v), 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
				return fmt.Errorf("set %s on %s: %w", attr, hdr.Name, err)
			}
		}
	}
	if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
		return nil
	}
	// After the owner: chown clears the set-id bits.
	return os.Chmod(path, mode&(os.ModePerm|os.ModeSetuid|os.ModeSetgid|os.ModeSticky))
}

func (x *extraction) setOwner(path string, hdr *tar.Header) error {
	if !x.chown {
		return nil
	}
	uid, gid := hdr.Uid, hdr.Gid
	if x.owner != nil {
		uid, gid = int(x.owner.UID), int(x.owner.GID)
	}
	return os.Lchown(path, uid, gid)
}

// linkTarget is where a hard link's target is: a path of the archive,
// below dest.
func (x *extraction) linkTarget(name string) (string, error) {
	rel := containerPath(name)
	dir, err := resolve(x.root, filepath.Join(x.dest, filepath.Dir(rel)))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(rel)), nil
}

// escapes tells whether a relative symbolic link at path would point
// above the extraction point, which dockerd refuses.
func (x *extraction) escapes(path, target string) bool {
	if filepath.IsAbs(target) {
		return false
	}
	dest := containerPath(x.dest)
	at := filepath.Join(filepath.Dir(inRoot(x.root, path)), target)
	return at != dest && !strings.HasPrefix(at, strings.TrimSuffix(dest, "/")+"/")
}

func setTimes(path string, atime, mtime time.Time, symlink bool) error {
	if mtime.IsZero() {
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	flags := 0
	if symlink {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, flags)
}
