package proto

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// File operations (docker cp, docker diff, docker export). Each runs on a
// stream of its own; bulk bytes (tar archives) follow the Response on that
// stream, never inside a message:
//
//	OpMountRoot  Request.Container: mount the container's root (disks,
//	             overlay, volumes) and switch into it, starting no process.
//	             A maintenance VM serves file operations of a container
//	             that is not running this way.
//	OpStatPath   Request.Path -> Response.Stat (the last element is not
//	             followed).
//	OpArchive    Request.Path -> Response.Stat, then a tar of the path on
//	             the stream until EOF.
//	OpExtract    Request.Path, Request.Extract -> a Response once the
//	             destination is known to be a directory; the host then
//	             sends a tar and half-closes, and the guest answers with a
//	             second Response once everything is extracted.
//	OpChanges    -> Response.Changes: the writable layer's changes.
//	OpExport     -> a Response, then a tar of the container's root file
//	             system (without the mounts on it) until EOF.
//	OpLayer      Request.Freeze -> a Response, then the writable layer as
//	             an image layer tar (whiteouts as ".wh." files), then a
//	             final Response: empty when the whole layer was written.
//
// Paths are resolved inside the container's root: neither ".." nor a
// symbolic link leads out of it.

// ErrorCode classifies a failed request, so the host maps it to a status
// without matching message texts.
type ErrorCode string

// Error codes.
const (
	// CodeNotFound: the path (or a component of it) does not exist.
	CodeNotFound ErrorCode = "not-found"
	// CodeInvalid: the request cannot be honoured as asked (an extraction
	// point that is not a directory, an unknown user).
	CodeInvalid ErrorCode = "invalid"
	// CodeCommandNotFound: a process's command does not exist (Docker's
	// exit code 127).
	CodeCommandNotFound ErrorCode = "command-not-found"
	// CodeCommandNotRunnable: a process's command exists but cannot be
	// run, e.g. it is not executable (Docker's exit code 126).
	CodeCommandNotRunnable ErrorCode = "command-not-runnable"
)

// Error is a request the guest refused.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCodeOf returns the code of a guest error ("" for other errors).
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// PathStat describes a path in the container, as Docker's
// X-Docker-Container-Path-Stat header does.
type PathStat struct {
	Name string      `json:"name"`
	Size int64       `json:"size"`
	Mode os.FileMode `json:"mode"`
	// Mtime is the modification time.
	Mtime time.Time `json:"mtime"`
	// LinkTarget is, for a symbolic link, the path it finally leads to
	// inside the container.
	LinkTarget string `json:"linkTarget"`
}

// ExtractOptions tune OpExtract.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory and the other way round.
	NoOverwriteDirNonDir bool `json:"noOverwriteDirNonDir,omitempty"`
	// ChownUser, when set, owns every extracted file instead of the
	// owners the archive names: a Docker user spec resolved in the
	// container's /etc/passwd and /etc/group (docker cp -a).
	ChownUser string `json:"chownUser,omitempty"`
}

// Change kinds, as Docker numbers them.
const (
	ChangeModify = 0
	ChangeAdd    = 1
	ChangeDelete = 2
)

// Change is one changed path of the writable layer.
type Change struct {
	Path string `json:"path"`
	Kind int    `json:"kind"`
}

// MountRoot mounts the container's root without starting a process.
func (c *Client) MountRoot(ctx context.Context, spec ContainerSpec) error {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpMountRoot, Container: &spec}, &resp)
	if err != nil {
		return err
	}
	return s.Close()
}

// StatPath describes path (its last element is not followed).
func (c *Client) StatPath(ctx context.Context, path string) (PathStat, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpStatPath, Path: path}, &resp)
	if err != nil {
		return PathStat{}, err
	}
	s.Close()
	if resp.Stat == nil {
		return PathStat{}, errors.New("the guest agent sent no stat")
	}
	return *resp.Stat, nil
}

// Archive returns path's description and a tar of it. The caller closes
// the reader.
func (c *Client) Archive(ctx context.Context, path string) (PathStat, io.ReadCloser, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpArchive, Path: path}, &resp)
	if err != nil {
		return PathStat{}, nil, err
	}
	if resp.Stat == nil {
		s.Close()
		return PathStat{}, nil, errors.New("the guest agent sent no stat")
	}
	return *resp.Stat, &download{stream: s}, nil
}

// Export returns a tar of the container's root file system. The caller
// closes the reader.
func (c *Client) Export(ctx context.Context) (io.ReadCloser, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpExport}, &resp)
	if err != nil {
		return nil, err
	}
	return &download{stream: s}, nil
}

// Extract unpacks the tar read from content into the directory path.
func (c *Client) Extract(ctx context.Context, path string, opts ExtractOptions, content io.Reader) error {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpExtract, Path: path, Extract: &opts}, &resp)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	_, copyErr := io.Copy(s, content)
	s.Close() // half-close: the archive ends here
	var final Response
	if err := ReadMessage(s, &final); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if copyErr != nil {
			return copyErr
		}
		return err
	}
	if final.Error != "" {
		return &Error{Code: final.Code, Message: final.Error}
	}
	return copyErr
}

// Changes lists the changes of the container's writable layer.
func (c *Client) Changes(ctx context.Context) ([]Change, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpChanges}, &resp)
	if err != nil {
		return nil, err
	}
	s.Close()
	return resp.Changes, nil
}

// Layer returns the container's writable layer as an image layer tar
// (docker commit); freeze holds the container's writes while it is read.
// The reader fails unless the guest wrote the whole layer: the tar ends
// with its end-of-archive marker and the guest's final Response carries
// no error. The caller closes it.
func (c *Client) Layer(ctx context.Context, freeze bool) (io.ReadCloser, error) {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpLayer, Freeze: freeze}, &resp)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	d := &download{stream: s}
	go func() { pw.CloseWithError(copyLayer(pw, s)) }()
	return &layerReader{PipeReader: pr, stream: d}, nil
}

// copyLayer copies the tar on stream to w up to its end-of-archive marker,
// then reads the guest's final Response.
func copyLayer(w io.Writer, stream io.Reader) error {
	tr := tar.NewReader(io.TeeReader(stream, w))
	for {
		_, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the guest's layer tar is incomplete: %w", err)
		}
	}
	var final Response
	if err := ReadMessage(stream, &final); err != nil {
		return fmt.Errorf("the guest did not confirm the layer: %w", err)
	}
	if final.Error != "" {
		return &Error{Code: final.Code, Message: final.Error}
	}
	return nil
}

// layerReader is Layer's reader; Close also ends the stream.
type layerReader struct {
	*io.PipeReader
	stream *download
}

func (l *layerReader) Close() error {
	l.PipeReader.Close()
	return l.stream.Close()
}

// downloadDrain bounds how long a download closed early keeps reading what
// the guest still sends (it stops at the host's half-close).
const downloadDrain = 30 * time.Second

// download is the bulk half of an archive or export stream.
type download struct {
	stream net.Conn
	once   sync.Once
}

func (d *download) Read(p []byte) (int, error) { return d.stream.Read(p) }

// Close half-closes the stream, which tells the guest to stop, and reads
// what is still under way so the guest's writes do not block.
func (d *download) Close() error {
	d.once.Do(func() {
		d.stream.Close()
		go func() {
			d.stream.SetReadDeadline(time.Now().Add(downloadDrain))
			io.Copy(io.Discard, d.stream)
		}()
	})
	return nil
}
