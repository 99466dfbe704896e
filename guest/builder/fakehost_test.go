package builder

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pier-vm/pier/guest/proto"
)

// fakeHost stands in for pierd on the daemon's stdio (two pipes): it
// answers every request with answer, each in its own goroutine, so that
// replies may come out of order.
type fakeHost struct {
	t      *testing.T
	answer func(proto.BuilderRequest) proto.BuilderReply

	mu   sync.Mutex
	reqs []proto.BuilderRequest
}

// newFakeHost returns the daemon's side: a Host reading replies from and
// writing requests to the fake.
func newFakeHost(t *testing.T, answer func(proto.BuilderRequest) proto.BuilderReply) (*fakeHost, *Host) {
	t.Helper()
	f, in, out := newFakeHostPipes(t, answer)
	return f, NewHost(in, out)
}

// newFakeHostPipes returns the daemon's stdin and stdout of the fake (OS
// pipes, so that a child process can have them).
func newFakeHostPipes(t *testing.T, answer func(proto.BuilderRequest) proto.BuilderReply) (*fakeHost, *os.File, *os.File) {
	t.Helper()
	reqR, reqW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeHost{t: t, answer: answer}
	t.Cleanup(func() {
		reqW.Close()
		repW.Close()
	})
	var wmu sync.Mutex
	go func() {
		sc := bufio.NewScanner(reqR)
		for sc.Scan() {
			var req proto.BuilderRequest
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				t.Errorf("fake host: a request line that is not JSON: %q", sc.Text())
				continue
			}
			f.mu.Lock()
			f.reqs = append(f.reqs, req)
			f.mu.Unlock()
			if req.Op == proto.BuilderReady {
				continue
			}
			go func() {
				rep := f.answer(req)
				rep.ID = req.ID
				b, _ := json.Marshal(rep)
				wmu.Lock()
				defer wmu.Unlock()
				_, _ = repW.Write(append(b, '\n'))
			}()
		}
	}()
	return f, repR, reqW
}

func (f *fakeHost) requests(op string) []proto.BuilderRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []proto.BuilderRequest
	for _, r := range f.reqs {
		if r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// serveBridge serves a bridge for host in a temporary root and returns it
// with an HTTP client of it.
func serveBridge(t *testing.T, host Requester) (*Bridge, string, func(context.Context) (net.Conn, error)) {
	t.Helper()
	root := t.TempDir()
	b, err := NewBridge(host, root, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(root, "bridge.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go b.Serve(l)
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
	return b, root, dial
}
