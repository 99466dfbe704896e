package rwlayer

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// sparseMagic opens a sparse image: the image's size, then only its
// non-zero blocks, each as its block number and blockSize bytes, all
// gzipped. An 8 GiB empty ext4 has ~550 such blocks: ~70 KB where the
// plain gzip of the image would be 8 MB and take seconds to inflate.
const sparseMagic = "PIER-SPARSE-1\n"

// WriteSparseImage encodes the image in r (size bytes) as a sparse image
// to w (mksparse, run by mktemplate.sh, uses it).
func WriteSparseImage(w io.Writer, r io.Reader, size int64) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(size))
	if _, err := zw.Write(append([]byte(sparseMagic), hdr[:]...)); err != nil {
		return err
	}
	buf, zero := make([]byte, blockSize), make([]byte, blockSize)
	for n := uint64(0); ; n++ {
		_, err := io.ReadFull(r, buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("image is not a whole number of %d-byte blocks: %w", blockSize, err)
		}
		if bytes.Equal(buf, zero) {
			continue
		}
		binary.BigEndian.PutUint64(hdr[:], n)
		if _, err := zw.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := zw.Write(buf); err != nil {
			return err
		}
	}
	return zw.Close()
}

// readSparseImage writes the sparse image in data to f (whose holes are
// zeros) and returns the image's size.
func readSparseImage(f *os.File, data []byte) (int64, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	r := bufio.NewReader(zr)
	head := make([]byte, len(sparseMagic)+8)
	if _, err := io.ReadFull(r, head); err != nil || string(head[:len(sparseMagic)]) != sparseMagic {
		return 0, errors.New("not a sparse image")
	}
	size := int64(binary.BigEndian.Uint64(head[len(sparseMagic):]))
	var num [8]byte
	buf := make([]byte, blockSize)
	for {
		if _, err := io.ReadFull(r, num[:]); errors.Is(err, io.EOF) {
			return size, nil
		} else if err != nil {
			return 0, fmt.Errorf("sparse image: %w", err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, fmt.Errorf("sparse image: %w", err)
		}
		off := int64(binary.BigEndian.Uint64(num[:])) * blockSize
		if off+blockSize > size {
			return 0, fmt.Errorf("sparse image: block at %d beyond its size %d", off, size)
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return 0, err
		}
	}
}
