package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"syscall"

	"github.com/pier-vm/pier/engine"
)

// Dial connects to the builder's BuildKit API (gRPC over HTTP/2 without
// TLS), starting the builder VM when it does not run: the connection is the
// stdio of a `pier-dial-stdio` in the VM. Closing the write half
// ends that process; closing the connection ends both halves.
func (b *Builder) Dial(ctx context.Context) (net.Conn, error) {
	end := b.use.begin()
	conn, err := b.dial(ctx)
	if err != nil {
		end()
		return nil, err
	}
	return &usedConn{Conn: conn, end: end}, nil
}

// dial connects without counting a use (pierd's shared client).
func (b *Builder) dial(ctx context.Context) (net.Conn, error) {
	inst, err := b.running(ctx)
	if err != nil {
		return nil, err
	}
	return inst.dial(ctx)
}

func (i *instance) dial(ctx context.Context) (net.Conn, error) {
	// (macOS has no SOCK_CLOEXEC: the flag is set after.)
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(fds[0])
	syscall.CloseOnExec(fds[1])
	ours := os.NewFile(uintptr(fds[0]), "builder-conn")
	theirs := os.NewFile(uintptr(fds[1]), "builder-stdio")
	conn, err := net.FileConn(ours)
	ours.Close() // FileConn holds a duplicate
	if err != nil {
		theirs.Close()
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	p, err := i.sb.Exec(ctx, engine.ExecRequest{
		ID: "dial-" + hex.EncodeToString(id[:]),
		Process: engine.ProcessSpec{
			Args: []string{dialPath},
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		Stdio: engine.Stdio{Stdin: theirs, Stdout: theirs, Stderr: discardWriter{}},
	})
	if err != nil {
		conn.Close()
		theirs.Close()
		return nil, fmt.Errorf("connecting to the builder: %w", err)
	}
	go func() {
		// The process wrote all it will: our end reads EOF.
		_, _ = p.Wait(context.Background())
		theirs.Close()
	}()
	return conn, nil
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
