package netd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pier-vm/pier/internal/atomicfile"

	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/internal/sockpath"
)

// Serve is the helper process's life: it starts the network described by
// dir/config.json, serves the control socket dir/control.sock and writes
// dir/helper.pid, until ctx ends or a client asks it to stop; then it
// closes the published ports and the network and removes its socket and
// pid file. It logs to stderr.
func Serve(ctx context.Context, dir string) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("pid", os.Getpid())
	lock, err := holdDir(dir)
	if err != nil {
		return fmt.Errorf("netd: %s: %w", dir, err)
	}
	defer lock.Close()
	cfg, err := readConfig(dir)
	if err != nil {
		return err
	}
	s := &server{log: log, cfg: cfg, pubs: map[string][]*held{}, conns: map[*net.UnixConn]bool{}}
	s.names.Store(&vnet.Names{})
	s.blocked.Store(&[]netip.Prefix{})
	n, err := vnet.New(cfg.vnet(s.lookup, s.isBlocked))
	if err != nil {
		return err
	}
	s.net = n
	defer n.Close()
	defer s.releaseAll()

	path, err := sockpath.For(dir, controlSock)
	if err != nil {
		return err
	}
	defer sockpath.RemoveLink(dir)
	_ = os.Remove(filepath.Join(dir, controlSock)) // a dead helper's: the lock is ours
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("netd: control socket: %w", err)
	}
	l.SetUnlinkOnClose(false)
	defer os.Remove(filepath.Join(dir, controlSock))
	if err := os.Chmod(filepath.Join(dir, controlSock), 0o600); err != nil {
		l.Close()
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		l.Close()
		return err
	}
	defer os.Remove(filepath.Join(dir, pidFile))

	ctx, s.stop = context.WithCancel(ctx)
	defer s.stop()
	log.Info("network helper serving", "dir", dir, "subnet", cfg.Subnet, "gateway", cfg.Gateway, "internal", cfg.Internal)
	go s.accept(l)
	<-ctx.Done()
	l.Close()
	s.closeConns()
	s.wg.Wait()
	log.Info("network helper stopping")
	return nil
}

// server is a helper's state.
type server struct {
	log  *slog.Logger
	cfg  Config
	net  *vnet.Network
	stop context.CancelFunc

	names   atomic.Pointer[vnet.Names]
	blocked atomic.Pointer[[]netip.Prefix]

	mu     sync.Mutex
	pubs   map[string][]*held // by owner
	conns  map[*net.UnixConn]bool
	closed bool
	wg     sync.WaitGroup
}

// held is a publication and its listener.
type held struct {
	Publication
	pub *vnet.Publication
}

func (s *server) lookup(src netip.Addr, name string) ([]netip.Addr, bool) {
	return s.names.Load().Lookup(src, name)
}

func (s *server) isBlocked(a netip.Addr) bool {
	for _, p := range *s.blocked.Load() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *server) accept(l *net.UnixListener) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket", "err", err)
				s.stop()
			}
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(c)
	}
}

func (s *server) closeConns() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// serveConn answers a connection's requests, one line each, in order.
func (s *server) serveConn(c *net.UnixConn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				_ = writeResponse(c, failure(err), nil)
			}
			return
		}
		var req request
		if err := json.Unmarshal(line, &req); err != nil {
			if writeResponse(c, failure(fmt.Errorf("netd: malformed request: %w", err)), nil) != nil {
				return
			}
			continue
		}
		resp, f := s.handle(req)
		err = writeResponse(c, resp, f)
		if f != nil {
			f.Close() // the VM's end now lives in the client
		}
		if err != nil {
			return
		}
		if req.Op == opStop {
			s.stop()
			return
		}
	}
}

// handle runs one request; f, when not nil, travels with the response.
func (s *server) handle(req request) (resp response, f *os.File) {
	switch req.Op {
	case opPing:
		cfg := s.cfg
		return response{Protocol: Protocol, Pid: os.Getpid(), Config: &cfg}, nil
	case opAttach:
		f, err := s.net.Attach(req.Datagram)
		if err != nil {
			return failure(err), nil
		}
		return response{}, f
	case opPublish:
		return s.publish(req), nil
	case opPublications:
		return response{Publications: s.publications(req.Owner)}, nil
	case opRelease:
		if req.Owner == "" {
			return failure(errors.New("netd: release needs an owner")), nil
		}
		s.release(req.Owner)
		return response{}, nil
	case opDNS:
		names := req.Names
		if names == nil {
			names = &vnet.Names{}
		}
		s.names.Store(names)
		return response{}, nil
	case opBlocked:
		var prefixes []netip.Prefix
		for _, p := range req.Prefixes {
			if !p.IsValid() {
				return failure(fmt.Errorf("netd: invalid prefix %v", p)), nil
			}
			prefixes = append(prefixes, p.Masked())
		}
		s.blocked.Store(&prefixes)
		return response{}, nil
	case opStop:
		s.log.Info("asked to stop")
		return response{}, nil
	}
	return failure(fmt.Errorf("netd: unknown operation %q", req.Op)), nil
}

func (s *server) publish(req request) response {
	if req.Owner == "" {
		return failure(errors.New("netd: publish needs an owner"))
	}
	if !req.Target.IsValid() {
		return failure(errors.New("netd: publish needs a target address"))
	}
	p, err := s.net.Publish(req.Proto, req.Host, req.Target)
	if err != nil {
		return failure(err)
	}
	h := &held{Publication: Publication{Owner: req.Owner, Proto: req.Proto, Host: p.Host, Target: req.Target}, pub: p}
	s.mu.Lock()
	s.pubs[req.Owner] = append(s.pubs[req.Owner], h)
	s.mu.Unlock()
	s.log.Info("published", "owner", req.Owner, "proto", req.Proto, "host", p.Host, "target", req.Target)
	return response{Host: p.Host}
}

// publications lists owner's publications (everyone's for ""), in the
// order they were made.
func (s *server) publications(owner string) []Publication {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Publication
	owners := []string{owner}
	if owner == "" {
		owners = make([]string, 0, len(s.pubs))
		for o := range s.pubs {
			owners = append(owners, o)
		}
		slices.Sort(owners)
	}
	for _, o := range owners {
		for _, h := range s.pubs[o] {
			out = append(out, h.Publication)
		}
	}
	return out
}

func (s *server) release(owner string) {
	s.mu.Lock()
	hs := s.pubs[owner]
	delete(s.pubs, owner)
	s.mu.Unlock()
	for _, h := range hs {
		_ = h.pub.Close()
	}
	if len(hs) > 0 {
		s.log.Info("released", "owner", owner, "ports", len(hs))
	}
}

func (s *server) releaseAll() {
	s.mu.Lock()
	owners := make([]string, 0, len(s.pubs))
	for o := range s.pubs {
		owners = append(owners, o)
	}
	s.mu.Unlock()
	for _, o := range owners {
		s.release(o)
	}
}
