package build

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
	"github.com/pier-vm/pier/guest/proto"
)

// maxLine bounds one request line of the builder daemon.
const maxLine = 1 << 20

// link is pierd's end of the builder protocol: it is the daemon's stdout
// (requests come in as written lines) and feeds its stdin (replies).
type link struct {
	b      *Builder
	stdin  *io.PipeReader
	replyW *io.PipeWriter
	wmu    sync.Mutex

	partial   []byte
	ready     chan struct{}
	readyOnce sync.Once

	fmu   sync.Mutex
	files engine.Files

	ctx    context.Context
	cancel context.CancelFunc
}

func newLink(b *Builder) *link {
	r, w := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	l := &link{b: b, stdin: r, replyW: w, ready: make(chan struct{}), ctx: ctx, cancel: cancel}
	return l
}

func (l *link) close() {
	l.cancel()
	l.replyW.Close()
}

// Write takes the daemon's stdout: whole lines are requests.
func (l *link) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(l.partial)+len(p) > maxLine {
				l.b.log.Warn("the builder daemon wrote an over-long line; dropped")
				l.partial = l.partial[:0]
				return n, nil
			}
			l.partial = append(l.partial, p...)
			break
		}
		line := append(l.partial, p[:i]...)
		l.partial = nil
		p = p[i+1:]
		l.dispatch(line)
	}
	return n, nil
}

func (l *link) dispatch(line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	var req proto.BuilderRequest
	if err := json.Unmarshal(line, &req); err != nil {
		l.b.log.Warn("the builder daemon wrote a line that is not a request", "line", string(line))
		return
	}
	switch req.Op {
	case proto.BuilderReady:
		l.readyOnce.Do(func() { close(l.ready) })
	case proto.BuilderResolve:
		go l.answer(req, func() (string, error) { return "", l.resolve(req) })
	case proto.BuilderExport:
		go l.answer(req, func() (string, error) { return l.export(req) })
	case proto.BuilderLookup:
		go l.answer(req, func() (string, error) { return l.lookup(req) })
	default:
		go l.reply(proto.BuilderReply{ID: req.ID, Error: "unknown request " + req.Op})
	}
}

func (l *link) answer(req proto.BuilderRequest, do func() (string, error)) {
	id, err := do()
	r := proto.BuilderReply{ID: req.ID, Image: id}
	if err != nil {
		l.b.log.Info("builder request failed", "op", req.Op, "ref", req.Ref, "err", err)
		r.Error = err.Error()
	}
	l.reply(r)
}

func (l *link) reply(r proto.BuilderReply) {
	b, _ := json.Marshal(r)
	l.wmu.Lock()
	defer l.wmu.Unlock()
	_, _ = l.replyW.Write(append(b, '\n'))
}

func (l *link) setFiles(f engine.Files) {
	l.fmu.Lock()
	l.files = f
	l.fmu.Unlock()
}

func (l *link) fs() (engine.Files, error) {
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.files == nil {
		return nil, errBuilderGone
	}
	return l.files, nil
}

// lookup says which image pier has for req's reference and platform.
func (l *link) lookup(req proto.BuilderRequest) (string, error) {
	plat, err := requestPlatform(req)
	if err != nil {
		return "", err
	}
	img, err := l.b.cfg.Images.Resolve(req.Ref, plat)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// requestPlatform is req's platform (nil: any).
func requestPlatform(req proto.BuilderRequest) (*platform.Platform, error) {
	if req.Platform == "" {
		return nil, nil
	}
	p, err := platform.Parse(req.Platform)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// resolve puts the image req names (pulled when pier does not have it)
// into the builder as a docker-save tarball at req.Path.
func (l *link) resolve(req proto.BuilderRequest) error {
	plat, err := requestPlatform(req)
	if err != nil {
		return err
	}
	if !path.IsAbs(req.Path) {
		return fmt.Errorf("resolve: path %q is not absolute", req.Path)
	}
	images := l.b.cfg.Images
	img, err := images.Resolve(req.Ref, plat)
	if errdefs.IsNotFound(err) {
		// Fetched without moving the user's tag. When that tag names
		// another platform's image, the one fetched for the build leaves
		// pier's list once it is in the builder, as dockerd's BuildKit
		// keeps its pulls apart.
		img, err = images.Fetch(l.ctx, req.Ref, plat)
		if err == nil {
			if named, nerr := images.Resolve(req.Ref, nil); nerr == nil && named.ID != img.ID {
				defer l.dropUntagged(img.ID)
			}
		}
	}
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(l.b.cfg.Dir, ".resolve-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := images.Save(l.ctx, []string{img.ID}, tmp); err != nil {
		return err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	files, err := l.fs()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: path.Base(req.Path), Mode: 0o600, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.Copy(tw, tmp)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	err = files.ExtractToDir(l.ctx, path.Dir(req.Path), engine.ExtractOptions{}, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

// dropUntagged removes the image fetched for a build (id) when no tag
// names it.
func (l *link) dropUntagged(id string) {
	images := l.b.cfg.Images
	if img, err := images.Resolve(id, nil); err == nil && len(img.RepoTags) == 0 {
		if _, err := images.Remove(id, image.RemoveOptions{}); err != nil {
			l.b.log.Debug("removing the image fetched for a build", "id", id, "err", err)
		}
	}
}

// export loads the docker-save tarball at req.Path in the builder into
// pier's image store and tags it with req.Names; it returns the image ID.
func (l *link) export(req proto.BuilderRequest) (string, error) {
	files, err := l.fs()
	if err != nil {
		return "", err
	}
	_, rc, err := files.ArchivePath(l.ctx, req.Path)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	hdr, err := tr.Next()
	if err != nil {
		return "", fmt.Errorf("reading the exported image: %w", err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return "", fmt.Errorf("the exported image %s is not a file", req.Path)
	}
	loaded, err := l.b.cfg.Images.Load(l.ctx, tr, nil)
	if err != nil {
		return "", err
	}
	if len(loaded) == 0 {
		return "", fmt.Errorf("the exported image %s held no image", req.Path)
	}
	id := loaded[0]
	if !strings.HasPrefix(id, "sha256:") {
		img, err := l.b.cfg.Images.Resolve(id, nil)
		if err != nil {
			return "", err
		}
		id = img.ID
	}
	for _, name := range req.Names {
		if err := l.b.cfg.Images.Tag(id, name, ""); err != nil {
			return "", fmt.Errorf("tagging %s: %w", name, err)
		}
	}
	return id, nil
}
