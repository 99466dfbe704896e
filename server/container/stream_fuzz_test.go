package container

import (
	"bytes"
	"testing"

	"github.com/docker/docker/pkg/stdcopy"
	"github.com/moby/term"
)

// FuzzStreamFrames writes arbitrary stdout and stderr chunks through the
// writers attach, logs and exec use on a stream without a TTY, and
// demultiplexes the result as the docker CLI does (stdcopy): each stream
// comes back byte for byte. (pier only writes these frames; the stdin of
// a hijacked stream is raw bytes, which pier does not parse.)
func FuzzStreamFrames(f *testing.F) {
	f.Add([]byte("out"), []byte("err"), uint8(3))
	f.Add([]byte{}, []byte{0, 1, 2}, uint8(0))
	f.Add(bytes.Repeat([]byte("x"), 70000), []byte("\n"), uint8(7))
	f.Fuzz(func(t *testing.T, out, errOut []byte, split uint8) {
		var stream bytes.Buffer
		stdout, stderr := streamWriters(&stream, false)
		// Interleave: out in pieces of split+1 bytes, errOut once between.
		step := int(split) + 1
		for i := 0; i < len(out); i += step {
			stdout.Write(out[i:min(i+step, len(out))])
			if i == 0 {
				stderr.Write(errOut)
			}
		}
		if len(out) == 0 {
			stderr.Write(errOut)
		}
		var gotOut, gotErr bytes.Buffer
		if _, err := stdcopy.StdCopy(&gotOut, &gotErr, &stream); err != nil {
			t.Fatalf("demultiplexing pier's own stream: %v", err)
		}
		if !bytes.Equal(gotOut.Bytes(), out) || !bytes.Equal(gotErr.Bytes(), errOut) {
			t.Fatalf("stdout %q stderr %q came back as %q %q", out, errOut, gotOut.Bytes(), gotErr.Bytes())
		}

		// With a TTY the stream is raw.
		stream.Reset()
		stdout, stderr = streamWriters(&stream, true)
		stdout.Write(out)
		stderr.Write(errOut)
		if !bytes.Equal(stream.Bytes(), append(append([]byte{}, out...), errOut...)) {
			t.Fatal("a TTY stream is not the raw output")
		}
	})
}

// FuzzDetachKeys checks attach's detachKeys validation against the
// parser the docker CLI and dockerd use: pier accepts exactly what they do.
func FuzzDetachKeys(f *testing.F) {
	for _, s := range []string{"ctrl-p,ctrl-q", "a", "ctrl-@", "ctrl-1", " ctrl-p", "CTRL-P", "DEL", "ab", ",", "ctrl-\\", "ctrl-[,x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, keys string) {
		_, err := term.ToBytes(keys)
		if got, want := validDetachKeys(keys), err == nil; got != want {
			t.Fatalf("validDetachKeys(%q) = %v, dockerd says %v (%v)", keys, got, want, err)
		}
	})
}
