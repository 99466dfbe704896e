package guestassets

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// module is one kernel module of a guest directory.
type module struct {
	// rel is the path relative to the modules/<kver> directory, as
	// modules.dep names it.
	rel  string
	deps []string
}

// moduleSet is the modules of one kernel, in load order.
type moduleSet struct {
	dir     string // host directory modules/<kver>
	kver    string
	ordered []string // rel paths, each after its dependencies
}

// guestPaths are the modules' absolute paths inside the initramfs.
func (s *moduleSet) guestPaths() []string {
	out := make([]string, len(s.ordered))
	for i, rel := range s.ordered {
		out[i] = s.guestPath(rel)
	}
	return out
}

// has says whether the set holds the module called name (its file name
// without .ko; modules.dep spells some with '-' where the name has '_').
func (s *moduleSet) has(name string) bool {
	for _, rel := range s.ordered {
		base := strings.ReplaceAll(strings.TrimSuffix(path.Base(rel), ".ko"), "-", "_")
		if base == name {
			return true
		}
	}
	return false
}

// hasNineP says whether the set holds 9p and its virtio transport.
func (s *moduleSet) hasNineP() bool { return s.has("9p") && s.has("9pnet_virtio") }

func (s *moduleSet) guestPath(rel string) string {
	return path.Join("/lib/modules", s.kver, rel)
}

// loadModules reads dir/modules.dep and orders every module it lists so
// that each comes after all of its dependencies.
func loadModules(dir, kver string) (*moduleSet, error) {
	depFile := filepath.Join(dir, "modules.dep")
	mods, err := parseModulesDep(depFile)
	if err != nil {
		return nil, missing(filepath.Dir(filepath.Dir(dir)), err)
	}
	ordered, err := loadOrder(mods)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", depFile, err)
	}
	return &moduleSet{dir: dir, kver: kver, ordered: ordered}, nil
}

// parseModulesDep parses depmod's "path: dep dep ..." lines, keeping the
// file's order.
func parseModulesDep(file string) ([]module, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mods []module
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		name, deps, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%s:%d: malformed line %q", file, n, line)
		}
		if !validRel(name) {
			return nil, fmt.Errorf("%s:%d: bad module path %q", file, n, name)
		}
		mods = append(mods, module{rel: name, deps: strings.Fields(deps)})
	}
	return mods, sc.Err()
}

// validRel accepts a clean relative path to a .ko file.
func validRel(p string) bool {
	return strings.HasSuffix(p, ".ko") && !path.IsAbs(p) && path.Clean(p) == p && !strings.HasPrefix(p, "../")
}

// loadOrder sorts mods topologically (dependencies first), stable with
// respect to the input order. It fails on unknown dependencies and cycles.
func loadOrder(mods []module) ([]string, error) {
	byRel := make(map[string]module, len(mods))
	for _, m := range mods {
		byRel[m.rel] = m
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := make(map[string]int, len(mods))
	order := make([]string, 0, len(mods))
	var visit func(rel string, chain []string) error
	visit = func(rel string, chain []string) error {
		switch state[rel] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, rel), " -> "))
		}
		m, ok := byRel[rel]
		if !ok {
			return fmt.Errorf("%s depends on %s, which modules.dep does not list", chain[len(chain)-1], rel)
		}
		state[rel] = visiting
		for _, d := range m.deps {
			if err := visit(d, append(chain, rel)); err != nil {
				return err
			}
		}
		state[rel] = done
		order = append(order, rel)
		return nil
	}
	for _, m := range mods {
		if err := visit(m.rel, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
