package engine

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/network"
	"github.com/pier-vm/pier/errdefs"
)

// Legacy links (`docker run --link NAME[:ALIAS]`, HostConfig.Links) on the
// default bridge, where Docker resolves no names: the linking container's
// /etc/hosts names the linked one's address by alias, hostname and name,
// and its processes get the linked container's ports and environment as
// ALIAS_PORT_… and ALIAS_ENV_… variables, as dockerd gives them. On other
// networks links are EndpointSettings.Links, served as DNS aliases.

// link is one legacy link: the container named child, known as alias.
type link struct{ child, alias string }

// parseLink reads "name[:alias]" as given to --link, or "/name:/parent/alias"
// as stored and shown by inspect.
func parseLink(spec string) (link, error) {
	if spec == "" {
		return link{}, errdefs.InvalidParameterf("empty string specified for links")
	}
	name, alias, hasAlias := strings.Cut(spec, ":")
	if strings.Contains(alias, ":") {
		return link{}, errdefs.InvalidParameterf("bad format for links: %s", spec)
	}
	if !hasAlias {
		alias = name
	}
	if alias == "" {
		return link{}, errdefs.InvalidParameterf("bad format for links: %s", spec)
	}
	name, alias = strings.TrimPrefix(name, "/"), path.Base(alias)
	if name == "" || alias == "/" {
		return link{}, errdefs.InvalidParameterf("bad format for links: %s", spec)
	}
	return link{child: name, alias: alias}, nil
}

// usesLegacyLinks says whether a container in network mode mode links by
// HostConfig.Links: on the default bridge only.
func usesLegacyLinks(mode string) bool { return networkModeOf(mode) == network.NameBridge }

// checkLinks validates a create's links as dockerd does: each names an
// existing container (else an invalid parameter, so that the CLI does not
// take it for a missing image), and host networking has none.
func (s *Containers) checkLinks(hc container.HostConfig) ([]link, error) {
	if len(hc.Links) == 0 {
		return nil, nil
	}
	if networkModeOf(hc.NetworkMode) == network.NameHost {
		return nil, errdefs.InvalidParameterf("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
	}
	out := make([]link, 0, len(hc.Links))
	for _, spec := range hc.Links {
		l, err := parseLink(spec)
		if err != nil {
			return nil, err
		}
		x, err := s.get(l.child)
		if err != nil {
			return nil, errdefs.InvalidParameter(fmt.Errorf("could not get container for %s: %w", l.child, err))
		}
		if networkModeOf(x.snapshot().HostConfig.NetworkMode) == network.NameHost {
			return nil, errdefs.InvalidParameterf("conflicting options: host type networking can't be used with links. This would result in undefined behavior")
		}
		out = append(out, l)
	}
	return out, nil
}

// storedLinks are links as dockerd records them: "/name:/parent/alias".
func storedLinks(links []link, parent string) []string {
	if len(links) == 0 {
		return nil
	}
	out := make([]string, 0, len(links))
	for _, l := range links {
		out = append(out, "/"+l.child+":"+path.Join(parent, l.alias))
	}
	return out
}

// linkedContainers resolves c's links when it starts: /etc/hosts lines and
// environment variables. A linked container must be running (dockerd's
// "Cannot link to a non running container").
func (s *Containers) linkedContainers(c container.Container) (hosts, env []string, err error) {
	if !usesLegacyLinks(c.HostConfig.NetworkMode) {
		return nil, nil, nil
	}
	for _, spec := range c.HostConfig.Links {
		l, err := parseLink(spec)
		if err != nil {
			return nil, nil, err
		}
		name := path.Join("/", trimSlash(c.Name), l.alias)
		x, err := s.get(l.child)
		if err != nil {
			return nil, nil, fmt.Errorf("could not get container for %s: %w", l.child, err)
		}
		x.mu.Lock()
		child, running := x.c, x.run != nil
		x.mu.Unlock()
		if !running {
			return nil, nil, fmt.Errorf("Cannot link to a non running container: %s AS %s", child.Name, name)
		}
		var ip string
		if ep := child.Networks[network.NameBridge]; ep != nil {
			ip = ep.IPAddress
		}
		if ip != "" {
			names := l.alias + " " + child.Config.Hostname
			if l.alias != trimSlash(child.Name) {
				names += " " + trimSlash(child.Name)
			}
			hosts = append(hosts, ip+"\t"+names)
		}
		env = append(env, linkEnv(name, ip, child.Config.ExposedPorts, child.Config.Env)...)
	}
	return hosts, env, nil
}

// linkEnv is what a link to a container at ip named name (/parent/alias),
// exposing ports ("80/tcp") with environment childEnv, puts into the
// linking container's environment: ALIAS_PORT (the first port),
// ALIAS_PORT_<port>_<PROTO>[_ADDR|_PORT|_PROTO] for each port, _START and
// _END variables over runs of consecutive ports, ALIAS_NAME, and
// ALIAS_ENV_<var> for the child's variables but HOME and PATH. Ports are
// ordered TCP first, then by protocol and number.
func linkEnv(name, ip string, ports, childEnv []string) []string {
	alias := strings.ReplaceAll(strings.ToUpper(path.Base(name)), "-", "_")
	type port struct {
		num   int
		proto string
	}
	var ps []port
	for _, p := range ports {
		n, proto, _ := strings.Cut(p, "/")
		num, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		ps = append(ps, port{num, cmp.Or(strings.ToLower(proto), "tcp")})
	}
	slices.SortFunc(ps, func(a, b port) int {
		switch {
		case a.proto == b.proto:
			return cmp.Compare(a.num, b.num)
		case a.proto == "tcp":
			return -1
		case b.proto == "tcp":
			return 1
		}
		return strings.Compare(a.proto, b.proto)
	})
	var env []string
	url := func(p port) string { return fmt.Sprintf("%s://%s:%d", p.proto, ip, p.num) }
	prefix := func(p port) string { return fmt.Sprintf("%s_PORT_%d_%s", alias, p.num, strings.ToUpper(p.proto)) }
	if len(ps) > 0 {
		env = append(env, alias+"_PORT="+url(ps[0]))
	}
	for i := 0; i < len(ps); {
		j := i // ps[i..j] is a run of consecutive ports of one protocol
		for j+1 < len(ps) && ps[j+1].proto == ps[i].proto && ps[j+1].num == ps[j].num+1 {
			j++
		}
		for _, p := range ps[i : j+1] {
			pre := prefix(p)
			env = append(env, pre+"="+url(p), pre+"_ADDR="+ip, pre+"_PORT="+strconv.Itoa(p.num), pre+"_PROTO="+p.proto)
		}
		if j > i {
			pre := prefix(ps[i])
			env = append(env, pre+"_START="+url(ps[i]), pre+"_PORT_START="+strconv.Itoa(ps[i].num),
				pre+"_END="+url(ps[j]), pre+"_PORT_END="+strconv.Itoa(ps[j].num))
		}
		i = j + 1
	}
	env = append(env, alias+"_NAME="+name)
	for _, kv := range childEnv {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "HOME" || k == "PATH" {
			continue
		}
		env = append(env, alias+"_ENV_"+k+"="+v)
	}
	return env
}

// renameInLinks follows a rename in every stored link, as dockerd's link
// graph does: links to the container name it anew, and its own links
// carry its new name (already its Name) as their parent.
func (s *Containers) renameInLinks(oldName, newName string) {
	oldName, newName = trimSlash(oldName), trimSlash(newName)
	for _, y := range s.all() {
		y.mu.Lock()
		if usesLegacyLinks(y.c.HostConfig.NetworkMode) && len(y.c.HostConfig.Links) > 0 {
			var links []link
			for _, spec := range y.c.HostConfig.Links {
				if l, err := parseLink(spec); err == nil {
					if l.child == oldName {
						l.child = newName
					}
					links = append(links, l)
				}
			}
			if stored := storedLinks(links, y.c.Name); !slices.Equal(stored, y.c.HostConfig.Links) {
				y.c.HostConfig.Links = stored
				if err := s.saveLocked(y); err != nil {
					s.log.Warn("saving a container's links after a rename", "id", y.c.ID, "err", err)
				}
			}
		}
		y.mu.Unlock()
	}
}
