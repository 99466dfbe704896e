package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
)

// Offsets into the x86 boot protocol's setup header
// (Documentation/arch/x86/boot.rst).
const (
	offSetupSects    = 0x1f1
	offHeaderMagic   = 0x202 // "HdrS"
	offPayloadOffset = 0x248
	offPayloadLength = 0x24c
)

// lz4LegacyMagic starts an LZ4 legacy frame, the format the kernel's
// CONFIG_KERNEL_LZ4 uses.
var lz4LegacyMagic = []byte{0x02, 0x21, 0x4c, 0x18}

var elfMagic = []byte{0x7f, 'E', 'L', 'F'}

// extract returns the ELF kernel compressed inside image.
func extract(image []byte) ([]byte, error) {
	payload, err := lz4Payload(image)
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(lz4.NewReader(bytes.NewReader(payload)))
	// The kernel appends the uncompressed size after the LZ4 stream; the
	// reader may report it as a broken frame once all data is out. The ELF
	// and size checks below are what decide.
	if len(out) == 0 {
		return nil, fmt.Errorf("lz4 payload: %w", err)
	}
	if !bytes.HasPrefix(out, elfMagic) {
		return nil, errors.New("decompressed payload is not an ELF file")
	}
	if len(payload) >= 4 {
		want := binary.LittleEndian.Uint32(payload[len(payload)-4:])
		if uint32(len(out)) != want {
			return nil, fmt.Errorf("decompressed %d bytes, the image says %d (lz4: %v)", len(out), want, err)
		}
	}
	return out, nil
}

// lz4Payload locates the compressed kernel: through the setup header when
// image is a bzImage, else at the first LZ4 legacy frame magic.
func lz4Payload(image []byte) ([]byte, error) {
	if len(image) > offPayloadLength+4 && string(image[offHeaderMagic:offHeaderMagic+4]) == "HdrS" {
		setupSects := int(image[offSetupSects])
		if setupSects == 0 {
			setupSects = 4
		}
		start := (setupSects + 1) * 512
		off := int(binary.LittleEndian.Uint32(image[offPayloadOffset:]))
		n := int(binary.LittleEndian.Uint32(image[offPayloadLength:]))
		if start+off+n > len(image) || n < 4 {
			return nil, errors.New("bzImage payload lies outside the file")
		}
		payload := image[start+off : start+off+n]
		if !bytes.HasPrefix(payload, lz4LegacyMagic) {
			return nil, errors.New("bzImage payload is not LZ4-compressed")
		}
		return payload, nil
	}
	i := bytes.Index(image, lz4LegacyMagic)
	if i < 0 {
		return nil, errors.New("no LZ4 frame found")
	}
	return image[i:], nil
}
