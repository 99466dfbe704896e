package rwlayer

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestCreateWritesSparseExt4(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.img")
	const size = 8 << 30
	if err := Create(path, size); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != size {
		t.Fatalf("size %d, want %d", fi.Size(), size)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Blocks*512 > 16<<20 {
		t.Fatalf("disk uses %d bytes: not sparse", st.Blocks*512)
	}
	sb := superblock(t, path)
	if magic := binary.LittleEndian.Uint16(sb[0x38:]); magic != 0xef53 {
		t.Fatalf("no ext4 superblock (magic %#x)", magic)
	}
	const roCompatReadonly = 0x1000
	if ro := binary.LittleEndian.Uint32(sb[0x64:]); ro&roCompatReadonly != 0 {
		t.Fatal("filesystem is marked read-only")
	}
	if blocks := binary.LittleEndian.Uint32(sb[0x04:]); int64(blocks)*4096 != size {
		t.Fatalf("an %d-byte disk starts with %d blocks: want it full size", size, blocks)
	}
}

// Other sizes start from the small template, which the guest grows.
func TestCreateOtherSizesStartSmall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.img")
	const size = 1 << 30
	if err := Create(path, size); err != nil {
		t.Fatal(err)
	}
	if blocks := binary.LittleEndian.Uint32(superblock(t, path)[0x04:]); int64(blocks)*4096 != TemplateSize {
		t.Fatalf("template has %d blocks", blocks)
	}
}

func TestSparseImageRoundTrip(t *testing.T) {
	img := make([]byte, 64*blockSize)
	copy(img[3*blockSize:], "hello")
	copy(img[63*blockSize+100:], "end")
	var enc bytes.Buffer
	if err := WriteSparseImage(&enc, bytes.NewReader(img), int64(len(img))); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	size, err := readSparseImage(f, enc.Bytes())
	if err != nil || size != int64(len(img)) {
		t.Fatalf("size %d, %v", size, err)
	}
	f.Truncate(size)
	got, _ := os.ReadFile(f.Name())
	if !bytes.Equal(got, img) {
		t.Fatal("round trip changed the image")
	}
	if _, err := readSparseImage(f, []byte("garbage")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestCreateRefusesSmallOrExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rw.img")
	if err := Create(path, 1<<20); err == nil {
		t.Fatal("a 1 MiB disk was created")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("failed Create left a file")
	}
	if err := Create(path, TemplateSize); err != nil {
		t.Fatal(err)
	}
	if err := Create(path, TemplateSize); err == nil {
		t.Fatal("Create overwrote an existing disk")
	}
	// Only the finished disk is left: the unfinished one was written
	// beside it and removed.
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "rw.img" {
		t.Fatalf("directory holds %v, want only rw.img", entries)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != TemplateSize || fi.Mode().Perm() != 0o644 {
		t.Fatalf("disk: %v, %v", fi, err)
	}
}

// superblock reads the ext4 superblock of the disk at path.
func superblock(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, 1024); err != nil {
		t.Fatal(err)
	}
	return sb
}
