//go:build linux

package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/proto"
)

// The file operations of guest/proto (docker cp, diff, export) over the
// container's root. In a VM the agent runs chrooted into that root, so
// nothing outside it is reachable anyway; paths are still resolved with
// securejoin so that a root below "/" (tests) holds just as well.

// invalidError is a request that cannot be honoured as asked.
type invalidError struct{ msg string }

func (e invalidError) Error() string { return e.msg }

func invalidf(format string, a ...any) error { return invalidError{fmt.Sprintf(format, a...)} }

// errorResponse classifies err for the host.
func errorResponse(err error) proto.Response {
	resp := proto.Response{Error: err.Error()}
	var inv invalidError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		resp.Code = proto.CodeNotFound
	case errors.As(err, &inv):
		resp.Code = proto.CodeInvalid
	}
	return resp
}

func failFile(stream net.Conn, err error) {
	proto.WriteMessage(stream, errorResponse(err))
	stream.Close()
}

// containerPath cleans p into an absolute path of the container: ".."
// stops at the root, as in Docker.
func containerPath(p string) string { return filepath.Join("/", p) }

// lresolve returns where the container path p is below root, with every
// element but the last resolved inside root (the last one is not
// followed, as lstat does not follow it).
func lresolve(root, p string) (string, error) {
	clean := containerPath(p)
	if clean == "/" {
		return root, nil
	}
	dir, err := securejoin.SecureJoin(root, filepath.Dir(clean))
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, filepath.Base(clean)), nil
}

// resolve returns where the container path p is below root, every
// element (the last included) resolved inside root.
func resolve(root, p string) (string, error) {
	return securejoin.SecureJoin(root, containerPath(p))
}

// inRoot turns a path below root back into the container's path.
func inRoot(root, hostPath string) string {
	rel, err := filepath.Rel(root, hostPath)
	if err != nil || rel == "." {
		return "/"
	}
	return filepath.Join("/", rel)
}

// statPath describes the container path p and returns where it is.
func statPath(root, p string) (proto.PathStat, string, error) {
	host, err := lresolve(root, p)
	if err != nil {
		return proto.PathStat{}, "", err
	}
	fi, err := os.Lstat(host)
	if err != nil {
		return proto.PathStat{}, "", pathError(p, err)
	}
	st := proto.PathStat{
		Name:  filepath.Base(containerPath(p)),
		Size:  fi.Size(),
		Mode:  fi.Mode(),
		Mtime: fi.ModTime(),
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := resolve(root, p)
		if err != nil {
			return proto.PathStat{}, "", err
		}
		st.LinkTarget = inRoot(root, target)
	}
	return st, host, nil
}

// pathError words a failed lookup with the container's path, not the
// agent's.
func pathError(p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: p, Err: pe.Err}
	}
	return err
}

func (a *Agent) serveStatPath(stream net.Conn, p string) {
	st, _, err := statPath(a.root, p)
	if err != nil {
		failFile(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{Stat: &st})
	stream.Close()
}

// serveArchive sends the path's stat, then a tar of it. The root entry is
// named after the path's last element ("." for a path ending in "/.", so
// that the client copies a directory's content), as dockerd names it.
func (a *Agent) serveArchive(stream net.Conn, p string) {
	st, host, err := statPath(a.root, p)
	if err != nil {
		failFile(stream, err)
		return
	}
	if err := proto.WriteMessage(stream, proto.Response{Stat: &st}); err != nil {
		stream.Close()
		return
	}
	name := st.Name
	if p == "." || strings.HasSuffix(p, "/.") {
		name = "."
	}
	w := watchHostClose(stream)
	tb := newTarball(w)
	tb.skipContent = a.kernelMounts()
	if err := tb.addTree(host, name); err != nil {
		logf("archive %s: %v", p, err)
	}
	tb.close()
	stream.Close()
}

// serveExport sends a tar of the container's root file system.
func (a *Agent) serveExport(stream net.Conn) {
	root, release, err := a.exportRoot()
	if err != nil {
		failFile(stream, err)
		return
	}
	defer release()
	if err := proto.WriteMessage(stream, proto.Response{}); err != nil {
		stream.Close()
		return
	}
	tb := newTarball(watchHostClose(stream))
	if err := tb.addTree(root+"/.", ""); err != nil {
		logf("export: %v", err)
	}
	tb.close()
	stream.Close()
}

// exportRoot is the root file system without what is mounted on it (the
// kernel file systems, volumes): in a VM, a detached copy of the root's
// mount alone (open_tree), reached through /proc/self/fd.
func (a *Agent) exportRoot() (string, func(), error) {
	if a.root != "/" {
		return a.root, func() {}, nil
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return "", nil, fmt.Errorf("open_tree /: %w", err)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { unix.Close(fd) }, nil
}

// kernelMounts are the directories whose content an archive leaves out:
// the kernel file systems mounted on the container's root.
func (a *Agent) kernelMounts() map[string]bool {
	out := map[string]bool{}
	var root unix.Stat_t
	if unix.Stat(a.root, &root) != nil {
		return out
	}
	for _, d := range []string{"proc", "sys", "dev"} {
		p := filepath.Join(a.root, d)
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Dev != root.Dev {
			out[p] = true
		}
	}
	return out
}

// serveExtract unpacks the tar the host sends into the directory p.
func (a *Agent) serveExtract(stream net.Conn, p string, opts *proto.ExtractOptions) {
	if opts == nil {
		opts = &proto.ExtractOptions{}
	}
	x, err := a.newExtraction(p, *opts)
	if err != nil {
		failFile(stream, err)
		return
	}
	if err := proto.WriteMessage(stream, proto.Response{}); err != nil {
		stream.Close()
		return
	}
	err = x.extract(stream)
	io.Copy(io.Discard, stream) // the rest, up to the host's half-close
	if err != nil {
		logf("extract into %s: %v", p, err)
		failFile(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{})
	stream.Close()
}

func (a *Agent) serveChanges(stream net.Conn) {
	var upper, lower string
	if a.hooks.Layers != nil {
		upper, lower = a.hooks.Layers()
	}
	if upper == "" {
		failFile(stream, errors.New("the container's writable layer is not mounted"))
		return
	}
	changes, err := layerChanges(upper, lower)
	if err != nil {
		failFile(stream, err)
		return
	}
	proto.WriteMessage(stream, proto.Response{Changes: changes})
	stream.Close()
}

func (a *Agent) serveMountRoot(stream net.Conn, spec *proto.ContainerSpec) {
	if spec == nil {
		fail(stream, errors.New("mount-root without a container"))
		return
	}
	if !a.claimRoot(stream, "the container's root is already mounted") {
		return
	}
	if a.hooks.MountRoot != nil {
		if err := a.hooks.MountRoot(spec); err != nil {
			fail(stream, err)
			return
		}
	}
	proto.WriteMessage(stream, proto.Response{})
	stream.Close()
}

// hostWatch is an archive's writer that fails once the host half-closed
// the stream (it stopped reading), so the walk ends early.
type hostWatch struct {
	w      io.Writer
	closed atomic.Bool
}

var errHostClosed = errors.New("the host stopped reading")

func watchHostClose(stream net.Conn) *hostWatch {
	h := &hostWatch{w: stream}
	go func() {
		io.Copy(io.Discard, stream)
		h.closed.Store(true)
	}()
	return h
}

func (h *hostWatch) Write(p []byte) (int, error) {
	if h.closed.Load() {
		return 0, errHostClosed
	}
	return h.w.Write(p)
}
