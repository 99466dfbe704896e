package network

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/engine/vnet"
	"github.com/pier-vm/pier/engine/vnet/netd"
)

// helpers says where and how the networks' helper processes run.
type helpers struct {
	// dir holds one directory per network, named by its ID.
	dir string
	// command starts a helper, followed by --dir DIR.
	command []string
}

func (h *helpers) dirOf(id string) string { return filepath.Join(h.dir, id) }

// start connects to the helper of n (one still running from a previous
// pierd, when it serves the same network) or starts one.
func (h *helpers) start(n Network) (*helperSwitch, error) {
	dir := h.dirOf(n.ID)
	args := append(append([]string{}, h.command[1:]...), "--dir", dir)
	c, err := netd.Start(context.Background(), dir, helperConfig(n), h.command[0], args...)
	if err != nil {
		return nil, err
	}
	return &helperSwitch{c: c}, nil
}

// helperConfig is what n's helper serves.
func helperConfig(n Network) netd.Config {
	cfg := netd.Config{Subnet: n.Subnet.Masked(), Gateway: n.Gateway, Internal: n.Internal}
	if !n.Internal {
		// The gateway doubles as the host: host.docker.internal and
		// host-gateway lead to the host's loopback through it.
		cfg.HostAlias = n.Gateway
	}
	return cfg
}

// localConfig is what n's in-process switch serves.
func localConfig(n Network) vnet.Config {
	hc := helperConfig(n)
	return vnet.Config{Subnet: hc.Subnet, Gateway: hc.Gateway, HostAlias: hc.HostAlias, Internal: hc.Internal}
}

// helperSwitch is a network's datapath in a helper process (engine/vnet/
// netd): it outlives pierd.
type helperSwitch struct {
	c *netd.Client
}

var _ datapath = (*helperSwitch)(nil)

func (s *helperSwitch) Attach(datagram bool) (*os.File, error) { return s.c.Attach(datagram) }

func (s *helperSwitch) Publish(owner, proto, host string, target netip.AddrPort) (netip.AddrPort, error) {
	if owner == "" {
		return netip.AddrPort{}, errors.New("publish: an owner is required")
	}
	return s.c.Publish(owner, proto, host, target)
}

func (s *helperSwitch) Publications(owner string) ([]Publication, error) {
	ps, err := s.c.Publications(owner)
	if err != nil {
		return nil, err
	}
	out := make([]Publication, 0, len(ps))
	for _, p := range ps {
		out = append(out, Publication{Owner: p.Owner, Proto: p.Proto, Host: p.Host, Target: p.Target})
	}
	return out, nil
}

func (s *helperSwitch) Release(owner string) error { return s.c.Release(owner) }

func (s *helperSwitch) setNames(names *vnet.Names) error { return s.c.SetDNS(names) }

func (s *helperSwitch) setBlocked(prefixes []netip.Prefix) error { return s.c.SetBlocked(prefixes) }

func (s *helperSwitch) alive() bool { return s.c.Ping() == nil }

func (s *helperSwitch) stop() error { return s.c.Stop(context.Background()) }

func (s *helperSwitch) leave() error { return s.c.Close() }

// reconnect takes over the helpers a previous pierd left running: each
// serving a known network as it is configured becomes that network's
// datapath; the others (a removed network, changed settings) are stopped
// and a removed network's directory goes. Names are not pushed here: the
// helpers keep answering from what they have until endpoints change.
func (ns *Registry) reconnect() {
	entries, err := os.ReadDir(ns.helpers.dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			ns.log.Warn("listing network helpers", "dir", ns.helpers.dir, "err", err)
		}
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		id, dir := e.Name(), ns.helpers.dirOf(e.Name())
		st := ns.byID[id]
		c, err := netd.Connect(context.Background(), dir)
		switch {
		case errors.Is(err, netd.ErrNotRunning):
			netd.Sweep(dir) // a config write the killed pierd did not finish
		case err != nil:
			ns.log.Warn("reconnecting to a network helper", "dir", dir, "err", err)
			continue
		case st != nil && st.n.Switched() && c.Config() == helperConfig(st.n):
			st.sw = &helperSwitch{c: c}
			ns.log.Info("reconnected to a network's helper", "network", st.n.Name, "pid", c.Pid())
			continue
		default:
			if err := c.Stop(context.Background()); err != nil {
				ns.log.Warn("stopping a network helper that serves no network as it is", "dir", dir, "err", err)
				continue
			}
			netd.Sweep(dir)
		}
		if st == nil {
			_ = os.RemoveAll(dir)
		}
	}
}
