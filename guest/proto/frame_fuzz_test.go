package proto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net"
	"runtime"
	"testing"
	"time"
)

// frameSeeds are well-formed and broken process-stream bytes.
func frameSeeds() [][]byte {
	frame := func(t FrameType, p string) []byte {
		var b bytes.Buffer
		WriteFrame(&b, t, []byte(p))
		return b.Bytes()
	}
	huge := []byte{byte(FrameStdout), 0xff, 0xff, 0xff, 0xff}
	big := []byte{byte(FrameStdout), 0, 0x10, 0, 0} // exactly maxFrame, no payload
	return [][]byte{
		nil, {0}, {11, 0, 0}, huge, big,
		frame(FrameStdout, "hello\n"),
		append(frame(FrameStderr, "oops"), frame(FrameExit, `{"code":3}`)...),
		frame(FrameExit, `{"code":"x"}`), frame(FrameExit, `not json`),
		frame(FrameResize, `{"height":24,"width":80}`), frame(FrameSignal, `{"signal":-1}`),
		append(frame(99, "unknown"), frame(FrameExit, `{"code":0,"oomKilled":true}`)...),
		frame(FrameStdout, "cut")[:6],
	}
}

// FuzzReadFrame decodes arbitrary bytes as a frame: no panic, no payload
// above maxFrame, no more payload than the input holds (memory follows the
// bytes that arrived, not the length a header claims), and a decoded frame
// encodes back to the bytes it was read from.
func FuzzReadFrame(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		typ, payload, err := ReadFrame(r)
		if err != nil {
			if len(in) >= 5 {
				n := binary.BigEndian.Uint32(in[1:5])
				if n <= maxFrame && len(in) >= 5+int(n) {
					t.Fatalf("ReadFrame refused a complete frame of %d bytes: %v", n, err)
				}
			}
			return
		}
		if len(payload) > maxFrame {
			t.Fatalf("payload of %d bytes is above maxFrame", len(payload))
		}
		used := len(in) - r.Len()
		if used != 5+len(payload) {
			t.Fatalf("read %d bytes for a %d-byte payload", used, len(payload))
		}
		var out bytes.Buffer
		if err := WriteFrame(&out, typ, payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), in[:used]) {
			t.Fatalf("frame %x re-encodes as %x", in[:used], out.Bytes())
		}
	})
}

// FuzzReadMessage decodes arbitrary bytes as a request and as a response:
// no panic, nothing above maxMessage, and a decoded request re-encodes to
// a message that decodes to the same request.
func FuzzReadMessage(f *testing.F) {
	msg := func(v any) []byte {
		var b bytes.Buffer
		WriteMessage(&b, v)
		return b.Bytes()
	}
	for _, s := range [][]byte{
		nil, {0, 0, 0, 2, '{', '}'}, {0xff, 0xff, 0xff, 0xff}, {0, 0x40, 0, 0},
		msg(Request{Op: OpHello}), msg(Request{Op: OpExec, Process: &ProcessSpec{Args: []string{"sh"}}}),
		msg(Response{Error: "no", Code: "notfound"}), msg(Request{Op: OpStdin, Pid: -1}),
		{0, 0, 0, 5, '[', '1', ']', 0, 0}, {0, 0, 0, 4, 'n', 'u', 'l', 'l'},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var resp Response
		ReadMessage(bytes.NewReader(in), &resp)
		var req Request
		if err := ReadMessage(bytes.NewReader(in), &req); err != nil {
			return
		}
		if n := binary.BigEndian.Uint32(in[:4]); n > maxMessage {
			t.Fatalf("accepted a message of %d bytes", n)
		}
		var out bytes.Buffer
		if err := WriteMessage(&out, req); err != nil {
			t.Fatalf("decoded request %+v does not encode: %v", req, err)
		}
		var again Request
		if err := ReadMessage(&out, &again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		a, _ := json.Marshal(req)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip changed the request: %s != %s", a, b)
		}
	})
}

// FuzzProcessFrames feeds arbitrary bytes to the host's reader of a guest
// process's stream (what exec and attach output come through): it never
// panics, always ends (with an exit status or an error once the stream
// ends), and passes on exactly the stdout and stderr payloads the frames
// before the first exit frame carry.
func FuzzProcessFrames(f *testing.F) {
	for _, s := range frameSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		// What a correct reader passes on, decoded independently.
		var wantOut, wantErr bytes.Buffer
		wantExit := false
		for r := bytes.NewReader(in); ; {
			typ, p, err := ReadFrame(r)
			if err != nil {
				break
			}
			if typ == FrameStdout {
				wantOut.Write(p)
			} else if typ == FrameStderr {
				wantErr.Write(p)
			} else if typ == FrameExit {
				wantExit = true
				break
			}
		}
		host, guest := net.Pipe()
		go func() {
			guest.Write(in)
			guest.Close()
		}()
		p := &Process{stream: host, done: make(chan struct{})}
		var out, errOut bytes.Buffer
		go p.readFrames(ProcessIO{Stdout: &out, Stderr: &errOut})
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Fatal("readFrames did not end after the stream closed")
		}
		if !bytes.Equal(out.Bytes(), wantOut.Bytes()) || !bytes.Equal(errOut.Bytes(), wantErr.Bytes()) {
			t.Fatalf("stdout %q stderr %q, want %q %q", out.Bytes(), errOut.Bytes(), wantOut.Bytes(), wantErr.Bytes())
		}
		if !wantExit && p.err == nil {
			t.Fatal("a stream without an exit frame ended without an error")
		}
	})
}

// TestAnnouncedSizeIsNotAllocatedUpFront checks that a header announcing
// the largest frame or message on a stream that then ends costs memory
// for the bytes that came, not for the size it announced.
func TestAnnouncedSizeIsNotAllocatedUpFront(t *testing.T) {
	frameHdr := []byte{byte(FrameStdout), 0, 0x10, 0, 0} // maxFrame
	msgHdr := []byte{0, 0x40, 0, 0}                      // maxMessage
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		if _, _, err := ReadFrame(bytes.NewReader(append(frameHdr, "abc"...))); err == nil {
			t.Fatal("a cut frame was read")
		}
		var v Request
		if err := ReadMessage(bytes.NewReader(append(msgHdr, `{"op"`...)), &v); err == nil {
			t.Fatal("a cut message was read")
		}
	}
	runtime.ReadMemStats(&after)
	// 100 frames of 1 MiB and 100 messages of 4 MiB allocated up front
	// would be 500 MiB.
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("reading 200 cut frames and messages allocated %d MiB", grew>>20)
	}
}
