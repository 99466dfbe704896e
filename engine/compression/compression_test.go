package compression

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/pier-vm/pier/errdefs"
)

func TestReaderDecompressesWhatItRecognises(t *testing.T) {
	plain := bytes.Repeat([]byte("a tar archive, or so "), 100)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	var zs bytes.Buffer
	enc, _ := zstd.NewWriter(&zs)
	enc.Write(plain)
	enc.Close()
	for name, in := range map[string][]byte{"plain": plain, "gzip": gz.Bytes(), "zstd": zs.Bytes(), "short": plain[:3]} {
		want := plain
		if name == "short" {
			want = plain[:3]
		}
		r, err := Reader(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: got %d bytes, %v", name, len(got), err)
		}
	}
	if _, err := Reader(bytes.NewReader([]byte{0xfd, '7', 'z', 'X', 'Z', 0, 1})); !errdefs.IsInvalidParameter(err) {
		t.Fatalf("xz: %v", err)
	}
}
