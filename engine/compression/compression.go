// Package compression opens archives that clients may send compressed, as
// dockerd accepts them on PUT /containers/{id}/archive: gzip, bzip2 and
// zstd are recognised by their magic bytes and decompressed; anything else
// is passed on as it is (a plain tar). xz, which dockerd decompresses with
// the xz program, is refused with a clear error.
package compression

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/pier-vm/pier/errdefs"
)

var (
	gzipMagic  = []byte{0x1f, 0x8b, 0x08}
	bzip2Magic = []byte{'B', 'Z', 'h'}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// Reader returns the decompressed content of r.
func Reader(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(6)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return gzip.NewReader(br)
	case bytes.HasPrefix(head, bzip2Magic):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(head, zstdMagic):
		d, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case bytes.HasPrefix(head, xzMagic):
		return nil, errdefs.InvalidParameterf("xz-compressed archives are not supported: send a plain, gzip, bzip2 or zstd tar")
	}
	return io.NopCloser(br), nil
}
