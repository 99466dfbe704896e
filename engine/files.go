package engine

import (
	"context"
	"io"
	"os"
	"time"
)

// Files is access to a container's file system: what docker cp, docker
// diff and docker export need. Paths are container paths, resolved inside
// the container's root (neither ".." nor a symbolic link leads out).
// Errors keep their errdefs class: a missing path is not found, a request
// that cannot be honoured (an extraction point that is not a directory)
// is an invalid parameter.
type Files interface {
	// StatPath describes path; its last element is not followed.
	StatPath(ctx context.Context, path string) (PathStat, error)
	// ArchivePath returns path's description and a tar of it whose root
	// entry is named after path's last element. The caller closes it.
	ArchivePath(ctx context.Context, path string) (PathStat, io.ReadCloser, error)
	// ExtractToDir unpacks the tar read from content into the directory
	// path (a symbolic link to a directory is followed).
	ExtractToDir(ctx context.Context, path string, opts ExtractOptions, content io.Reader) error
	// Changes lists the changes of the container's writable layer.
	Changes(ctx context.Context) ([]Change, error)
	// Export returns a tar of the container's root file system, without
	// its mounts. The caller closes it.
	Export(ctx context.Context) (io.ReadCloser, error)
	// Layer returns the container's writable layer as an image layer tar
	// (OCI whiteouts), docker commit's layer; freeze holds the running
	// container's writes to it while it is read. Reading fails unless the
	// whole layer came. The caller closes it.
	Layer(ctx context.Context, freeze bool) (io.ReadCloser, error)
}

// FilesSession is file access to a container that is not running,
// through a VM booted for it (see Runtime.OpenFiles). Close powers the VM
// off once its disks are synced; it may be called more than once, and
// every call returns once the VM is gone.
type FilesSession interface {
	Files
	Close() error
}

// PathStat describes a path in a container.
type PathStat struct {
	Name  string
	Size  int64
	Mode  os.FileMode
	Mtime time.Time
	// LinkTarget is, for a symbolic link, the container path it finally
	// leads to.
	LinkTarget string
}

// ExtractOptions tune ExtractToDir.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the other way round.
	NoOverwriteDirNonDir bool
	// ChownUser, when set, owns every extracted file: a Docker user spec
	// resolved in the container's /etc/passwd and /etc/group.
	ChownUser string
}

// ChangeKind is how a path changed, numbered as Docker numbers it.
type ChangeKind int

// Change kinds.
const (
	ChangeModify ChangeKind = 0
	ChangeAdd    ChangeKind = 1
	ChangeDelete ChangeKind = 2
)

// Change is one changed path of a container's writable layer.
type Change struct {
	Path string
	Kind ChangeKind
}
