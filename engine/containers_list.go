package engine

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/errdefs"
)

// ListOptions select containers for `docker ps`.
type ListOptions struct {
	// All includes containers that are not running.
	All bool
	// Limit keeps the newest Limit containers (0 = no limit).
	Limit  int
	Filter ListFilter
}

// ListFilter holds `docker ps --filter` values. Within one field any value
// may match (labels: all must); every non-empty field must match.
type ListFilter struct {
	IDs []string
	// Names are regular expressions matched against the name, with and
	// without its leading slash.
	Names []string
	// Labels are "key" or "key=value".
	Labels []string
	// Statuses are created, running, paused, restarting, removing, exited,
	// dead.
	Statuses []string
	// Ancestors are image references or IDs.
	Ancestors []string
	// Exited are exit codes of exited containers.
	Exited []int
	// Before and Since are containers (ID, prefix or name): keep only
	// containers created before / after them.
	Before, Since string
	// Health is "starting", "healthy", "unhealthy" or "none".
	Health []string
	// Networks are network names or network ID prefixes the container
	// must be connected to.
	Networks []string
	// Publish and Expose are "port/proto" keys ("8080/tcp") or ranges
	// ("8000-8002/udp"): a host port a running container publishes, or a
	// container port it exposes or publishes. A container matching either
	// is kept, as in dockerd.
	Publish, Expose []string
	// Volumes are volume names, bind mount sources or mount destinations
	// the container must have.
	Volumes []string
}

// Summary is one line of `docker ps`.
type Summary struct {
	container.Container
	RemovalInProgress bool
}

// ContainerList lists containers, newest first.
func (s *Containers) ContainerList(opts ListOptions) ([]Summary, error) {
	f := opts.Filter
	names := make([]*regexp.Regexp, 0, len(f.Names))
	for _, n := range f.Names {
		re, err := regexp.Compile(n)
		if err != nil {
			return nil, errdefs.InvalidParameterf("invalid name filter %q: %v", n, err)
		}
		names = append(names, re)
	}
	var before, since time.Time
	if f.Before != "" {
		x, err := s.get(f.Before)
		if err != nil {
			return nil, err
		}
		before = x.snapshot().Created
	}
	if f.Since != "" {
		x, err := s.get(f.Since)
		if err != nil {
			return nil, err
		}
		since = x.snapshot().Created
	}
	ancestors := s.ancestorIDs(f.Ancestors)
	all := opts.All || len(f.Statuses) > 0 || len(f.Exited) > 0 || opts.Limit > 0

	out := []Summary{}
	for _, x := range s.all() {
		info := x.info()
		c := info.Container
		status := c.State.Status
		if info.RemovalInProgress {
			status = container.StatusRemoving
		}
		switch {
		case !all && !c.State.Running:
		case len(f.IDs) > 0 && !slices.ContainsFunc(f.IDs, func(p string) bool { return strings.HasPrefix(c.ID, p) }):
		case len(names) > 0 && !slices.ContainsFunc(names, func(re *regexp.Regexp) bool {
			return re.MatchString(c.Name) || re.MatchString(trimSlash(c.Name))
		}):
		case !matchLabels(c.Config.Labels, f.Labels):
		case len(f.Statuses) > 0 && !slices.Contains(f.Statuses, status):
		case len(f.Exited) > 0 && (status != container.StatusExited || !slices.Contains(f.Exited, c.State.ExitCode)):
		case len(f.Ancestors) > 0 && !matchAncestor(c, f.Ancestors, ancestors):
		case !before.IsZero() && !c.Created.Before(before):
		case !since.IsZero() && !c.Created.After(since):
		case len(f.Health) > 0 && !slices.Contains(f.Health, healthStatus(c)):
		case len(f.Networks) > 0 && !matchNetworks(c, f.Networks):
		case len(f.Publish)+len(f.Expose) > 0 && !matchPorts(c.Ports, f.Publish, f.Expose):
		case len(f.Volumes) > 0 && !matchVolumes(c, f.Volumes):
		default:
			out = append(out, Summary{Container: c, RemovalInProgress: info.RemovalInProgress})
		}
		if opts.Limit > 0 && len(out) == opts.Limit {
			break
		}
	}
	return out, nil
}

// matchNetworks says whether c is connected to one of refs (a network name
// or a network ID prefix).
func matchNetworks(c container.Container, refs []string) bool {
	for _, ref := range refs {
		if _, ok := c.Networks[ref]; ok {
			return true
		}
		for _, ep := range c.Networks {
			if ep != nil && ep.NetworkID != "" && strings.HasPrefix(ep.NetworkID, ref) {
				return true
			}
		}
	}
	return false
}

// matchVolumes says whether one of c's mounts has a destination, a volume
// name or (without a name) a source in refs, as dockerd matches `docker ps
// --filter volume=` against the mounts inspect lists.
func matchVolumes(c container.Container, refs []string) bool {
	for _, mp := range c.ListedMountPoints() {
		key := mp.Name
		if key == "" {
			key = mp.Source
		}
		if slices.Contains(refs, mp.Destination) || slices.Contains(refs, key) {
			return true
		}
	}
	return false
}

// matchPorts says whether one of a running container's ports is published
// on a host port in publish or is a container port in expose. Like
// dockerd, an exposed port without a binding counts as host port 0.
func matchPorts(ports map[string][]container.PortBinding, publish, expose []string) bool {
	for key, bindings := range ports {
		port, proto, _ := strings.Cut(key, "/")
		if portListed(expose, port, proto) {
			return true
		}
		if len(bindings) == 0 {
			bindings = []container.PortBinding{{HostPort: "0"}}
		}
		for _, b := range bindings {
			if portListed(publish, b.HostPort, proto) {
				return true
			}
		}
	}
	return false
}

// portListed says whether port/proto is one of the filter's "port/proto"
// keys or inside one of its "first-last/proto" ranges.
func portListed(filter []string, port, proto string) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return false
	}
	for _, f := range filter {
		ports, p, _ := strings.Cut(f, "/")
		if p != proto {
			continue
		}
		first, last, isRange := strings.Cut(ports, "-")
		if !isRange {
			last = first
		}
		lo, err1 := strconv.ParseUint(first, 10, 16)
		hi, err2 := strconv.ParseUint(last, 10, 16)
		if err1 == nil && err2 == nil && lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// healthStatus is the container's health for filtering: "none" until a
// health check ran (as dockerd, a created container with a check is
// "none").
func healthStatus(c container.Container) string {
	if c.State.Health == nil {
		return container.HealthNone
	}
	return c.State.Health.Status
}

// ancestorIDs resolves ancestor filters to image IDs where possible.
func (s *Containers) ancestorIDs(refs []string) []string {
	var ids []string
	for _, ref := range refs {
		if img, err := s.images.Resolve(ref, nil); err == nil {
			ids = append(ids, img.ID)
		}
	}
	return ids
}

func matchAncestor(c container.Container, refs, ids []string) bool {
	if slices.Contains(ids, c.ImageID) {
		return true
	}
	for _, r := range refs {
		if c.Config.Image == r || c.Config.Image == r+":latest" {
			return true
		}
	}
	return false
}

// matchLabels reports whether every selector ("key" or "key=value")
// matches labels.
func matchLabels(labels map[string]string, selectors []string) bool {
	for _, sel := range selectors {
		k, v, hasValue := strings.Cut(sel, "=")
		got, ok := labels[k]
		if !ok || (hasValue && got != v) {
			return false
		}
	}
	return true
}
