package engine

import (
	"archive/tar"
	"context"
	"errors"
	"io"

	"github.com/pier-vm/pier/engine/commitconfig"
	"github.com/pier-vm/pier/engine/compression"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
	"github.com/pier-vm/pier/errdefs"
)

// ImportOptions is docker import: a root file system tarball made an
// image of one layer.
type ImportOptions struct {
	// Source is the tarball, plain or compressed (gzip, bzip2, zstd).
	Source io.Reader
	// SourceName is where it came from ("-" or a URL): the image's comment
	// is "Imported from SourceName" unless Message is given.
	SourceName string
	Message    string
	// Tag is the familiar repo:tag the image gets, or "".
	Tag string
	// Changes are Dockerfile instructions for its configuration
	// (commitconfig.ApplyChanges).
	Changes []string
	// Platform is the image's platform (zero: the host's).
	Platform platform.Platform
}

// ImageImport stores the tarball as a new image and returns its ID; the
// events are dockerd's: tag (when tagged), then import.
func (e *Engine) ImageImport(ctx context.Context, opts ImportOptions) (string, error) {
	cfg, err := commitconfig.ApplyChanges(container.Config{}, opts.Changes)
	if err != nil {
		return "", err
	}
	plat := opts.Platform
	if plat.IsZero() {
		plat = platform.Host()
	}
	comment := opts.Message
	if comment == "" {
		comment = "Imported from " + opts.SourceName
	}
	tarball, err := compression.Reader(opts.Source)
	if err != nil {
		return "", err
	}
	defer tarball.Close()
	layer := checkedTar(tarball)
	defer layer.Close() // ends checkedTar's copy if the store stops reading
	img, err := e.images.Commit(ctx, image.CommitRequest{
		Platform:            plat,
		Layer:               layer,
		Config:              commitconfig.ImageConfig(cfg),
		HealthStartInterval: commitconfig.HealthStartInterval(cfg),
		Comment:             comment,
		Tag:                 opts.Tag,
	})
	if bad := (*badTarError)(nil); errors.As(err, &bad) {
		return "", errdefs.InvalidParameter(bad) // without the store's words around it
	}
	if err != nil {
		return "", err
	}
	e.images.publish("import", img.ID, img.ID, img.Config.Config.Labels)
	return img.ID, nil
}

// checkedTar passes r on unchanged while reading it as a tar archive: what
// is not one ends the stream with an invalid-parameter error ("Error
// processing tar file: unexpected EOF", in dockerd's words) instead of
// becoming a layer no VM could use.
func checkedTar(r io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tr := tar.NewReader(io.TeeReader(r, pw))
		for {
			_, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				pw.CloseWithError(&badTarError{err})
				return
			}
		}
		_, err := io.Copy(pw, r) // what follows the end-of-archive blocks
		pw.CloseWithError(err)
	}()
	return pr
}

// badTarError is an import source that is not a tar archive.
type badTarError struct{ err error }

func (e *badTarError) Error() string { return "Error processing tar file: " + e.err.Error() }
