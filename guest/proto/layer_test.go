package proto

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
)

// layerStream is what a guest sends after OpLayer's first Response: a tar
// (ended or not) and the final Response.
func layerStream(t *testing.T, end bool, final *Response) ([]byte, []byte) {
	t.Helper()
	var tarBytes bytes.Buffer
	tw := tar.NewWriter(&tarBytes)
	tw.WriteHeader(&tar.Header{Name: "hello", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("hi\n"))
	if end {
		tw.Close()
	} else {
		tw.Flush()
	}
	stream := bytes.NewBuffer(append([]byte(nil), tarBytes.Bytes()...))
	if final != nil {
		WriteMessage(stream, *final)
	}
	return tarBytes.Bytes(), stream.Bytes()
}

func TestCopyLayerPassesAWholeLayer(t *testing.T) {
	want, stream := layerStream(t, true, &Response{})
	var got bytes.Buffer
	if err := copyLayer(&got, bytes.NewReader(stream)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("copied %d bytes, want the tar's %d (the final Response left out)", got.Len(), len(want))
	}
}

func TestCopyLayerFailsAnIncompleteLayer(t *testing.T) {
	for name, c := range map[string]struct {
		end   bool
		final *Response
		want  string
	}{
		"no end-of-archive marker": {end: false, final: nil, want: "did not confirm"},
		"no final response":        {end: true, final: nil, want: "did not confirm"},
		"the guest failed":         {end: true, final: &Response{Error: "reading the writable layer: boom"}, want: "boom"},
		"a torn tar":               {end: false, final: &Response{Error: "x"}, want: "incomplete"},
	} {
		_, stream := layerStream(t, c.end, c.final)
		var got bytes.Buffer
		err := copyLayer(&got, bytes.NewReader(stream))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one saying %q", name, err, c.want)
		}
	}
}
