package proto

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/yamux"
)

// Client is the host's typed client of one guest agent.
type Client struct {
	session *yamux.Session
	// Info is what the guest said in the handshake.
	Info HelloInfo
}

func yamuxConfig() *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.EnableKeepAlive = false
	cfg.ConnectionWriteTimeout = 30 * time.Second
	cfg.LogOutput = io.Discard
	cfg.MaxStreamWindowSize = 1 << 20
	return cfg
}

// HandshakeTimeout bounds Dial's handshake when ctx has no deadline. A guest
// under software emulation answers a few seconds after boot; a busy host
// booting many VMs at once needs more.
const HandshakeTimeout = time.Minute

// Dial runs the handshake over conn. It fails with a clear error when the
// agent does not answer before ctx ends (HandshakeTimeout when ctx has no
// deadline), or speaks another version.
func Dial(ctx context.Context, conn net.Conn) (*Client, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, HandshakeTimeout)
		defer cancel()
	}
	conn, err := syncHost(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("guest agent handshake: %w", err)
	}
	session, err := yamux.Client(conn, yamuxConfig())
	if err != nil {
		return nil, err
	}
	c := &Client{session: session}
	var resp Response
	stream, err := c.request(ctx, Request{Op: OpHello, Version: Version}, &resp)
	if err != nil {
		session.Close()
		return nil, fmt.Errorf("guest agent handshake: %w", err)
	}
	stream.Close()
	if resp.Hello == nil || resp.Hello.Version != Version {
		session.Close()
		got := 0
		if resp.Hello != nil {
			got = resp.Hello.Version
		}
		return nil, fmt.Errorf("guest agent speaks protocol version %d, pierd speaks %d: rebuild the guest (make guest)", got, Version)
	}
	c.Info = *resp.Hello
	return c, nil
}

// request opens a stream, sends req and reads the response, all bounded by
// ctx. On success the stream is left open for the caller.
func (c *Client) request(ctx context.Context, req Request, resp *Response) (net.Conn, error) {
	type result struct {
		stream net.Conn
		err    error
	}
	done := make(chan result, 1)
	go func() {
		stream, err := c.session.Open()
		if err != nil {
			done <- result{nil, err}
			return
		}
		if err := WriteMessage(stream, req); err != nil {
			stream.Close()
			done <- result{nil, err}
			return
		}
		if err := ReadMessage(stream, resp); err != nil {
			stream.Close()
			done <- result{nil, err}
			return
		}
		done <- result{stream, nil}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			if c.session.IsClosed() {
				return nil, ErrClosed
			}
			return nil, r.err
		}
		if resp.Error != "" {
			r.stream.Close()
			return nil, &Error{Code: resp.Code, Message: resp.Error}
		}
		return r.stream, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.stream != nil {
				r.stream.Close()
			}
		}()
		return nil, fmt.Errorf("the guest agent did not answer %q in time: %w", req.Op, ctx.Err())
	}
}

// Ping checks that the agent answers.
func (c *Client) Ping(ctx context.Context) error {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpPing}, &resp)
	if err != nil {
		return err
	}
	return s.Close()
}

// Shutdown asks the guest to power off now.
func (c *Client) Shutdown(ctx context.Context) error {
	var resp Response
	s, err := c.request(ctx, Request{Op: OpShutdown}, &resp)
	if err != nil {
		return err
	}
	return s.Close()
}

// Close ends the session (the guest is not told to power off).
func (c *Client) Close() error { return c.session.Close() }

// Done is closed when the session ended.
func (c *Client) Done() <-chan struct{} { return c.session.CloseChan() }

// ProcessIO connects a process to the host. Stdin nil means no input; EOF
// on Stdin closes the process's stdin. With a TTY all output goes to Stdout.
type ProcessIO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// StartContainer sets up the container root and starts its main process.
func (c *Client) StartContainer(ctx context.Context, spec ContainerSpec, pio ProcessIO) (*Process, error) {
	return c.startProcess(ctx, Request{Op: OpStart, Container: &spec}, pio)
}

// Exec starts a process in the running container.
func (c *Client) Exec(ctx context.Context, spec ProcessSpec, pio ProcessIO) (*Process, error) {
	return c.startProcess(ctx, Request{Op: OpExec, Process: &spec}, pio)
}

func (c *Client) startProcess(ctx context.Context, req Request, pio ProcessIO) (*Process, error) {
	var resp Response
	stream, err := c.request(ctx, req, &resp)
	if err != nil {
		return nil, err
	}
	p := &Process{client: c, stream: stream, pid: resp.Pid, done: make(chan struct{}), main: req.Op == OpStart}
	go p.readFrames(pio)
	if pio.Stdin != nil && opensStdin(req) {
		if err := p.attachStdin(ctx, pio.Stdin); err != nil {
			p.Signal(syscall.SIGKILL)
			return nil, fmt.Errorf("attach stdin: %w", err)
		}
	}
	return p, nil
}

func opensStdin(req Request) bool {
	switch {
	case req.Process != nil:
		return req.Process.OpenStdin
	case req.Container != nil:
		return req.Container.Process.OpenStdin
	}
	return false
}

// Process is a process running in the guest.
type Process struct {
	client *Client
	stream net.Conn
	pid    int
	// main is the container's main process, whose exit status the host
	// acknowledges (the guest keeps it until then).
	main    bool
	writeMu sync.Mutex
	done    chan struct{}
	status  ExitStatus
	err     error

	stdinMu     sync.Mutex
	stdin       net.Conn // the process's stdin stream, once attached
	stdinClosed bool
}

// Pid is the process id inside the guest.
func (p *Process) Pid() int { return p.pid }

func (p *Process) send(t FrameType, payload []byte) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	return WriteFrame(p.stream, t, payload)
}

func (p *Process) sendJSON(t FrameType, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return p.send(t, b)
}

func (p *Process) readFrames(pio ProcessIO) {
	defer close(p.done)
	defer p.stream.Close()
	for {
		t, payload, err := ReadFrame(p.stream)
		if err != nil {
			p.err = fmt.Errorf("lost the connection to the guest before the process exited: %w", err)
			return
		}
		switch t {
		case FrameStdout:
			if pio.Stdout != nil {
				pio.Stdout.Write(payload)
			}
		case FrameStderr:
			if pio.Stderr != nil {
				pio.Stderr.Write(payload)
			} else if pio.Stdout != nil {
				pio.Stdout.Write(payload)
			}
		case FrameExit:
			if err := json.Unmarshal(payload, &p.status); err != nil {
				p.err = fmt.Errorf("bad exit status from the guest: %w", err)
			}
			if p.main {
				p.send(FrameExitAck, nil)
			}
			return
		}
	}
}

// attachStdin opens the process's stdin stream and copies r into it until
// EOF, then half-closes it: the guest closes the process's stdin.
func (p *Process) attachStdin(ctx context.Context, r io.Reader) error {
	var resp Response
	s, err := p.client.request(ctx, Request{Op: OpStdin, Pid: p.pid}, &resp)
	if err != nil {
		return err
	}
	p.stdinMu.Lock()
	p.stdin = s
	p.stdinMu.Unlock()
	go func() {
		io.Copy(s, r)
		p.CloseStdin()
	}()
	return nil
}

// CloseStdin closes the process's stdin (a process started without
// OpenStdin has none).
func (p *Process) CloseStdin() error {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdinClosed {
		return nil
	}
	p.stdinClosed = true
	if p.stdin == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var resp Response
		s, err := p.client.request(ctx, Request{Op: OpStdin, Pid: p.pid}, &resp)
		if err != nil {
			return err
		}
		p.stdin = s
	}
	return p.stdin.Close()
}

// Resize sets the terminal size of a TTY process.
func (p *Process) Resize(height, width uint16) error {
	return p.sendJSON(FrameResize, Resize{Height: height, Width: width})
}

// Signal delivers sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	return p.sendJSON(FrameSignal, Signal{Signal: int(sig)})
}

// Done is closed once the exit status arrived (or the stream broke).
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait returns the exit status once the process exited and all its output
// was written to the ProcessIO writers.
func (p *Process) Wait(ctx context.Context) (ExitStatus, error) {
	select {
	case <-p.done:
		return p.status, p.err
	case <-ctx.Done():
		return ExitStatus{}, ctx.Err()
	}
}
