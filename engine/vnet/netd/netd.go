// Package netd is a network's datapath in a process of its own: the
// switch, NAT gateway and DNS server of one engine/vnet network and its
// published ports, served by a small helper process (`pierd net-helper
// --dir DIR`) so that they keep working while pierd is stopped, killed or
// upgraded, and so that a restarted pierd can reconnect to them.
//
// Everything a helper has is in its directory: config.json (the network,
// written by Start), control.sock (the control socket), helper.pid,
// helper.lock (held while a helper serves: one helper per directory) and
// helper.log (its stderr). The control protocol is one JSON request per
// line and one JSON response per line; a VM's end of a new socket pair
// travels with the answer to attach (SCM_RIGHTS). The DNS names and the
// subnets the gateway must not forward to are tables the client pushes.
package netd

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/pier-vm/pier/internal/atomicfile"

	"github.com/pier-vm/pier/engine/vnet"
)

// Files of a helper's directory.
const (
	configFile  = "config.json"
	controlSock = "control.sock"
	pidFile     = "helper.pid"
	lockFile    = "helper.lock"
	logFile     = "helper.log"
)

// Protocol names the control protocol this code speaks; a helper
// answering another one is stopped and replaced by Start.
const Protocol = "pier-netd/1"

// ErrNotRunning is Connect's answer when no helper serves a directory.
var ErrNotRunning = errors.New("netd: no helper runs")

// Config is the serialisable part of a vnet.Config: what a helper needs
// to start its network. Resolve and Blocked are served from the tables a
// client pushes (SetDNS, SetBlocked).
type Config struct {
	Subnet    netip.Prefix `json:"subnet"`
	Gateway   netip.Addr   `json:"gateway"`
	HostAlias netip.Addr   `json:"hostAlias,omitzero"`
	Internal  bool         `json:"internal,omitempty"`
	Upstream  string       `json:"upstream,omitempty"`
	MTU       int          `json:"mtu,omitempty"`
}

// normal is c with its subnet masked, as written to config.json.
func (c Config) normal() Config {
	c.Subnet = c.Subnet.Masked()
	return c
}

// vnet is the network's configuration, with names and blocked served by
// the helper's tables.
func (c Config) vnet(names vnet.Resolver, blocked func(netip.Addr) bool) vnet.Config {
	return vnet.Config{
		Subnet:    c.Subnet,
		Gateway:   c.Gateway,
		HostAlias: c.HostAlias,
		Internal:  c.Internal,
		Upstream:  c.Upstream,
		MTU:       c.MTU,
		Resolve:   names,
		Blocked:   blocked,
	}
}

// Publication is a published port a helper holds for an owner (a
// container).
type Publication struct {
	Owner  string         `json:"owner"`
	Proto  string         `json:"proto"`
	Host   netip.AddrPort `json:"host"`
	Target netip.AddrPort `json:"target"`
}

func writeConfig(dir string, cfg Config) error {
	b, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, configFile), append(b, '\n'), 0o600)
}

func readConfig(dir string) (Config, error) {
	var cfg Config
	b, err := os.ReadFile(filepath.Join(dir, configFile))
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("netd: %s in %s: %w", configFile, dir, err)
	}
	return cfg, nil
}
