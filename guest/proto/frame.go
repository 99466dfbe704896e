package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// FrameType tells what a process-stream frame carries.
type FrameType byte

// Frames towards the guest.
const (
	FrameResize FrameType = 3 // payload: JSON Resize
	FrameSignal FrameType = 4 // payload: JSON Signal
	// FrameExitAck tells the guest that the host took the main process's
	// exit status (the guest powers off only then).
	FrameExitAck FrameType = 5 // payload: none
)

// Frames towards the host.
const (
	FrameStdout FrameType = 11 // payload: output bytes (all output with a TTY)
	FrameStderr FrameType = 12 // payload: error output bytes
	FrameExit   FrameType = 13 // payload: JSON ExitStatus; always the last frame
)

// Resize is a terminal size.
type Resize struct {
	Height uint16 `json:"height"`
	Width  uint16 `json:"width"`
}

// Signal is a signal number to deliver.
type Signal struct {
	Signal int `json:"signal"`
}

// maxFrame bounds one frame's payload.
const maxFrame = 1 << 20

// WriteFrame writes a frame: type byte, 4-byte big-endian length, payload.
func WriteFrame(w io.Writer, t FrameType, payload []byte) error {
	buf := make([]byte, 5+len(payload))
	buf[0] = byte(t)
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(payload)))
	copy(buf[5:], payload)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (FrameType, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("proto: frame of %d bytes is too large", n)
	}
	p, err := readPayload(r, n)
	if err != nil {
		return 0, nil, err
	}
	return FrameType(hdr[0]), p, nil
}

// readPayload reads exactly n bytes, growing its buffer as they arrive, so
// that a header announcing a large payload on a stream that never sends
// it costs no more memory than the bytes that did arrive.
func readPayload(r io.Reader, n uint32) ([]byte, error) {
	var buf bytes.Buffer
	if n <= 64<<10 {
		buf.Grow(int(n))
	}
	got, err := io.CopyN(&buf, r, int64(n))
	if err != nil {
		if errors.Is(err, io.EOF) && got > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}
