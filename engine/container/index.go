package container

import (
	"regexp"
	"strings"
	"sync"

	"github.com/pier-vm/pier/errdefs"
)

// validName is Docker's rule for container names (an optional leading slash
// aside).
var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// ValidateName checks a user-given name and returns it with its leading
// slash.
func ValidateName(name string) (string, error) {
	if !validName.MatchString(name) {
		return "", errdefs.InvalidParameterf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	return "/" + strings.TrimPrefix(name, "/"), nil
}

// Index finds container IDs by full ID, unique ID prefix or name, and keeps
// names unique.
type Index struct {
	mu     sync.RWMutex
	ids    map[string]string // id -> name
	byName map[string]string // name -> id
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{ids: map[string]string{}, byName: map[string]string{}}
}

// Add records id under name (with its leading slash). A name in use is a
// conflict worded like Docker's.
func (x *Index) Add(id, name string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if other, ok := x.byName[name]; ok {
		return nameConflict(name, other)
	}
	x.ids[id] = name
	x.byName[name] = id
	return nil
}

// Rename moves id to newName.
func (x *Index) Rename(id, newName string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if other, ok := x.byName[newName]; ok {
		return nameConflict(newName, other)
	}
	delete(x.byName, x.ids[id])
	x.ids[id] = newName
	x.byName[newName] = id
	return nil
}

// Remove forgets id and frees its name.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.byName, x.ids[id])
	delete(x.ids, id)
}

// NameInUse reports whether name (with its slash) is taken.
func (x *Index) NameInUse(name string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.byName[name]
	return ok
}

// Lookup resolves ref like dockerd: a full ID, then a name (with or
// without slash), then a unique ID prefix. Unknown refs are not found
// ("No such container: ref"); an ambiguous prefix is invalid.
func (x *Index) Lookup(ref string) (string, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if ref == "" {
		return "", errdefs.NotFoundf("No such container: %s", ref)
	}
	if _, ok := x.ids[ref]; ok {
		return ref, nil
	}
	if id, ok := x.byName["/"+strings.TrimPrefix(ref, "/")]; ok {
		return id, nil
	}
	var found string
	for id := range x.ids {
		if strings.HasPrefix(id, ref) {
			if found != "" {
				return "", errdefs.InvalidParameterf("multiple IDs found with provided prefix: %s", ref)
			}
			found = id
		}
	}
	if found == "" {
		return "", errdefs.NotFoundf("No such container: %s", ref)
	}
	return found, nil
}

func nameConflict(name, id string) error {
	return errdefs.Conflictf("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, id)
}
