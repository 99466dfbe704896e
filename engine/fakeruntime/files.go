package fakeruntime

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/errdefs"
)

// memFS is a container's files, in memory: every container starts with
// "/", "/etc" and "/etc/passwd" (its image) and keeps what is copied in
// across runs, as its writable disk would. Symbolic links are followed
// once; that is all the HTTP layer's tests need.
type memFS struct {
	mu      sync.Mutex
	nodes   map[string]*node
	changes map[string]engine.ChangeKind
	// frozen records the freeze argument of every Layer call.
	frozen []bool
}

type node struct {
	mode     os.FileMode
	data     []byte
	link     string
	uid, gid int
	mtime    time.Time
}

func newMemFS() *memFS {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return &memFS{
		nodes: map[string]*node{
			"/":           {mode: os.ModeDir | 0o755, mtime: t},
			"/etc":        {mode: os.ModeDir | 0o755, mtime: t},
			"/etc/passwd": {mode: 0o644, data: []byte("root:x:0:0:root:/root:/bin/sh\n"), mtime: t},
		},
		changes: map[string]engine.ChangeKind{},
	}
}

func notFound(p string) error {
	return errdefs.NotFound(&os.PathError{Op: "lstat", Path: p, Err: os.ErrNotExist})
}

// follow resolves a symbolic link once; m.mu is held.
func (m *memFS) follow(p string) string {
	if n := m.nodes[p]; n != nil && n.link != "" {
		if path.IsAbs(n.link) {
			return path.Clean(n.link)
		}
		return path.Join(path.Dir(p), n.link)
	}
	return p
}

func (m *memFS) StatPath(ctx context.Context, p string) (engine.PathStat, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statLocked(p)
}

func (m *memFS) statLocked(p string) (engine.PathStat, error) {
	clean := path.Join("/", p)
	n := m.nodes[clean]
	if n == nil {
		return engine.PathStat{}, notFound(p)
	}
	st := engine.PathStat{Name: path.Base(clean), Size: int64(len(n.data)), Mode: n.mode, Mtime: n.mtime}
	if n.link != "" {
		st.LinkTarget = m.follow(clean)
	}
	return st, nil
}

func (m *memFS) ArchivePath(ctx context.Context, p string) (engine.PathStat, io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, err := m.statLocked(p)
	if err != nil {
		return engine.PathStat{}, nil, err
	}
	clean := path.Join("/", p)
	var buf strings.Builder
	tw := tar.NewWriter(&buf)
	for _, q := range m.sortedLocked() {
		if q != clean && !strings.HasPrefix(q, strings.TrimSuffix(clean, "/")+"/") {
			continue
		}
		m.writeLocked(tw, q, st.Name+strings.TrimPrefix(q, clean))
	}
	tw.Close()
	return st, io.NopCloser(strings.NewReader(buf.String())), nil
}

func (m *memFS) sortedLocked() []string {
	out := make([]string, 0, len(m.nodes))
	for p := range m.nodes {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func (m *memFS) writeLocked(tw *tar.Writer, p, name string) {
	n := m.nodes[p]
	hdr := &tar.Header{Name: name, Mode: int64(n.mode.Perm()), Uid: n.uid, Gid: n.gid, ModTime: n.mtime, Typeflag: tar.TypeReg, Size: int64(len(n.data))}
	switch {
	case n.mode.IsDir():
		hdr.Typeflag, hdr.Size, hdr.Name = tar.TypeDir, 0, strings.TrimSuffix(name, "/")+"/"
	case n.link != "":
		hdr.Typeflag, hdr.Size, hdr.Linkname = tar.TypeSymlink, 0, n.link
	}
	tw.WriteHeader(hdr)
	tw.Write(n.data)
}

func (m *memFS) ExtractToDir(ctx context.Context, p string, opts engine.ExtractOptions, content io.Reader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dest := m.follow(path.Join("/", p))
	n := m.nodes[dest]
	if n == nil {
		return notFound(p)
	}
	if !n.mode.IsDir() {
		return errdefs.InvalidParameter(errors.New("extraction point is not a directory"))
	}
	tr := tar.NewReader(content)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := path.Join(dest, path.Join("/", hdr.Name))
		if old := m.nodes[target]; old != nil && opts.NoOverwriteDirNonDir && old.mode.IsDir() != (hdr.Typeflag == tar.TypeDir) {
			return fmt.Errorf("cannot overwrite %q", target)
		}
		data, _ := io.ReadAll(tr)
		nn := &node{mode: hdr.FileInfo().Mode(), data: data, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
		if hdr.Typeflag == tar.TypeSymlink {
			nn.link = hdr.Linkname
		}
		if opts.ChownUser != "" {
			nn.uid, nn.gid = 1000, 1000
		}
		kind := engine.ChangeAdd
		if m.nodes[target] != nil {
			kind = engine.ChangeModify
		}
		m.nodes[target] = nn
		m.changes[target] = kind
	}
}

func (m *memFS) Changes(ctx context.Context) ([]engine.Change, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []engine.Change{}
	for p, k := range m.changes {
		out = append(out, engine.Change{Path: p, Kind: k})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (m *memFS) Export(ctx context.Context) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var buf strings.Builder
	tw := tar.NewWriter(&buf)
	for _, p := range m.sortedLocked() {
		if p != "/" {
			m.writeLocked(tw, p, p[1:])
		}
	}
	tw.Close()
	return io.NopCloser(strings.NewReader(buf.String())), nil
}

// Layer is a tar of the changed paths, a deleted one as its ".wh." file;
// freeze is recorded (LayerFrozen).
func (m *memFS) Layer(ctx context.Context, freeze bool) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.frozen = append(m.frozen, freeze)
	var buf strings.Builder
	tw := tar.NewWriter(&buf)
	for _, p := range slices.Sorted(maps.Keys(m.changes)) {
		if m.changes[p] == engine.ChangeDelete || m.nodes[p] == nil {
			tw.WriteHeader(&tar.Header{Name: path.Join(path.Dir(p), ".wh."+path.Base(p))[1:], Mode: 0o600, Typeflag: tar.TypeReg})
			continue
		}
		m.writeLocked(tw, p, p[1:])
	}
	tw.Close()
	return io.NopCloser(strings.NewReader(buf.String())), nil
}

// filesOf returns the files of container id; r.mu is held.
func (r *Runtime) filesOf(id string) *memFS {
	fs := r.files[id]
	if fs == nil {
		fs = newMemFS()
		r.files[id] = fs
	}
	return fs
}

// OpenFiles opens a maintenance session on the container's files. It
// fails while the container runs or another session is open: the real
// runtime must never boot two VMs on one writable disk.
func (r *Runtime) OpenFiles(ctx context.Context, req engine.RunRequest) (engine.FilesSession, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[req.ContainerID] || r.sessions[req.ContainerID] > 0 {
		return nil, fmt.Errorf("fakeruntime: the writable disk of %s is in use", req.ContainerID)
	}
	if err := touch(req.WritableDisk); err != nil {
		return nil, err
	}
	r.sessions[req.ContainerID]++
	r.opened++
	return &session{memFS: r.filesOf(req.ContainerID), r: r, id: req.ContainerID}, nil
}

// LayerFreezes returns the freeze argument of every Layer call on the
// files of container id, in order.
func (r *Runtime) LayerFreezes(id string) []bool {
	r.mu.Lock()
	fs := r.filesOf(id)
	r.mu.Unlock()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.frozen)
}

// FileSessions is how many maintenance sessions were opened.
func (r *Runtime) FileSessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opened
}

// OpenSessions is how many maintenance sessions are open.
func (r *Runtime) OpenSessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, u := range r.sessions {
		n += u
	}
	return n
}

type session struct {
	*memFS
	r      *Runtime
	id     string
	closed sync.Once
}

func (s *session) Close() error {
	s.closed.Do(func() {
		s.r.mu.Lock()
		s.r.sessions[s.id]--
		s.r.mu.Unlock()
	})
	return nil
}

// touch creates the writable disk as the real runtime does (empty here).
func touch(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}
