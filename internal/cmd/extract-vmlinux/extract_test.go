package main

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// fakeBzImage builds a bzImage-shaped file: setup sectors with a setup
// header pointing at an LZ4 legacy payload followed by the size, as the
// kernel's build does.
func fakeBzImage(t *testing.T, kernel []byte) []byte {
	t.Helper()
	var payload bytes.Buffer
	w := lz4.NewWriter(&payload)
	if err := w.Apply(lz4.LegacyOption(true)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(kernel); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	binary.Write(&payload, binary.LittleEndian, uint32(len(kernel)))

	const setupSects = 3
	img := make([]byte, (setupSects+1)*512+64)
	img[offSetupSects] = setupSects
	copy(img[offHeaderMagic:], "HdrS")
	binary.LittleEndian.PutUint32(img[offPayloadOffset:], 64)
	binary.LittleEndian.PutUint32(img[offPayloadLength:], uint32(payload.Len()))
	img = append(img, payload.Bytes()...)
	return append(img, []byte("trailing setup data")...)
}

func TestExtractFromBzImage(t *testing.T) {
	kernel := append([]byte("\x7fELF"), bytes.Repeat([]byte("kernel text "), 100000)...)
	got, err := extract(fakeBzImage(t, kernel))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, kernel) {
		t.Errorf("extracted %d bytes, want the %d-byte kernel", len(got), len(kernel))
	}
}

func TestExtractRejectsNonELF(t *testing.T) {
	if _, err := extract(fakeBzImage(t, bytes.Repeat([]byte("not elf"), 1000))); err == nil {
		t.Error("a non-ELF payload was accepted")
	}
	if _, err := extract([]byte("no kernel here")); err == nil {
		t.Error("a file without LZ4 was accepted")
	}
}
