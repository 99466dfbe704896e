package netd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/engine/vnet"
)

// Operations of the control protocol.
const (
	opPing         = "ping"         // health check: the helper's protocol, pid and config
	opAttach       = "attach"       // a VM's end of a new socket pair travels with the answer
	opPublish      = "publish"      // bind a host port for an owner; answers the bound address
	opPublications = "publications" // an owner's publications (every owner's for "")
	opRelease      = "release"      // close an owner's publications
	opDNS          = "dns"          // replace the names table
	opBlocked      = "blocked"      // replace the subnets the gateway must not forward to
	opStop         = "stop"         // answer, then close everything and exit
)

// maxLine bounds a request or response line: a names table for a few
// thousand containers fits, and a peer cannot make the other side grow
// without bound.
const maxLine = 4 << 20

type request struct {
	Op       string         `json:"op"`
	Datagram bool           `json:"datagram,omitempty"`
	Owner    string         `json:"owner,omitempty"`
	Proto    string         `json:"proto,omitempty"`
	Host     string         `json:"host,omitempty"`
	Target   netip.AddrPort `json:"target,omitzero"`
	Names    *vnet.Names    `json:"names,omitempty"`
	Prefixes []netip.Prefix `json:"prefixes,omitempty"`
}

type response struct {
	// Error says why the request failed; Errno is the system error under
	// it, if any (EADDRINUSE for a port in use), on this same host.
	Error string `json:"error,omitempty"`
	Errno int    `json:"errno,omitempty"`
	// FD says that a file descriptor travels with this response.
	FD bool `json:"fd,omitempty"`

	Protocol     string         `json:"protocol,omitempty"`
	Pid          int            `json:"pid,omitempty"`
	Config       *Config        `json:"config,omitempty"`
	Host         netip.AddrPort `json:"host,omitzero"`
	Publications []Publication  `json:"publications,omitempty"`
}

// failure is the response for err, keeping its errno.
func failure(err error) response {
	r := response{Error: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		r.Errno = int(errno)
	}
	return r
}

// remoteError is a helper's error; errors.Is sees its errno.
type remoteError struct {
	msg   string
	errno syscall.Errno
}

func (e *remoteError) Error() string { return e.msg }

func (e *remoteError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

// errLineTooLong is a line over maxLine.
var errLineTooLong = fmt.Errorf("netd: line over %d bytes", maxLine)

// readLine reads one line (without its newline) of at most maxLine bytes.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine+1 {
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return bytes.TrimSuffix(line[:len(line)-1], []byte("\r")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, err
		}
	}
}

// writeResponse sends resp as one line, with f's descriptor (when f is
// not nil) as SCM_RIGHTS on its first byte.
func writeResponse(c *net.UnixConn, resp response, f *os.File) error {
	resp.FD = f != nil
	b, err := json.Marshal(resp)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if f == nil {
		_, err = c.Write(b)
		return err
	}
	n, _, err := c.WriteMsgUnix(b, unix.UnixRights(int(f.Fd())), nil)
	if err == nil && n < len(b) {
		_, err = c.Write(b[n:])
	}
	return err
}

// readResponse reads one response line and the descriptors that came
// with it (closed unless the response announces one, which is returned).
func readResponse(c *net.UnixConn) (response, *os.File, error) {
	var resp response
	var fds []int
	closeFDs := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	buf := make([]byte, 0, 4096)
	oob := make([]byte, unix.CmsgSpace(4*4))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > maxLine {
				closeFDs()
				return resp, nil, errLineTooLong
			}
			buf = append(buf, make([]byte, len(buf))...)[:len(buf)]
		}
		n, oobn, _, _, err := c.ReadMsgUnix(buf[len(buf):cap(buf)], oob)
		// A failed read can report -1 bytes (the recvmsg result as it is).
		n, oobn = max(n, 0), max(oobn, 0)
		if oobn > 0 {
			fds = append(fds, parseRights(oob[:oobn])...)
		}
		buf = buf[:len(buf)+n]
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[:i]
			break
		}
		if err != nil {
			closeFDs()
			return resp, nil, err
		}
	}
	if err := json.Unmarshal(buf, &resp); err != nil {
		closeFDs()
		return resp, nil, fmt.Errorf("netd: malformed response: %w", err)
	}
	if !resp.FD {
		closeFDs()
		return resp, nil, nil
	}
	if len(fds) != 1 {
		closeFDs()
		return resp, nil, fmt.Errorf("netd: the response carries %d descriptors, want 1", len(fds))
	}
	return resp, os.NewFile(uintptr(fds[0]), "netd-vm"), nil
}

// parseRights returns the descriptors of SCM_RIGHTS messages in oob.
func parseRights(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if got, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}
