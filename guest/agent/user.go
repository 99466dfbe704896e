//go:build linux

package agent

import (
	"path/filepath"
	"slices"

	"github.com/moby/sys/user"
)

// Identity is who a process runs as.
type Identity struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

// LookupUser resolves a Docker user spec ("", "uid", "uid:gid", "name",
// "name:group") against root's /etc/passwd and /etc/group with runc's own
// rules (github.com/moby/sys/user): a numeric uid need not exist, a name
// must ("unable to find user X: no matching entries in passwd file"), and a
// named user gets the groups that list it as supplementary groups.
func LookupUser(root, spec string) (Identity, error) {
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	u, err := user.GetExecUserPath(spec, defaults, filepath.Join(root, "etc/passwd"), filepath.Join(root, "etc/group"))
	if err != nil {
		return Identity{}, unknownUserError{err}
	}
	id := Identity{UID: uint32(u.Uid), GID: uint32(u.Gid), Home: u.Home}
	for _, g := range u.Sgids {
		id.Groups = append(id.Groups, uint32(g))
	}
	if id.Home == "" {
		id.Home = "/"
	}
	return id, nil
}

// AddGroups adds supplementary groups (names in root's /etc/group, or
// numeric gids) as runc adds --group-add's: a name that is no group is an
// unknown-user error ("unable to find group X: ..."). The added groups
// follow the user's own, in gid order.
func (id *Identity) AddGroups(root string, groups []string) error {
	if len(groups) == 0 {
		return nil
	}
	gids, err := user.GetAdditionalGroupsPath(groups, filepath.Join(root, "etc/group"))
	if err != nil {
		return unknownUserError{err}
	}
	// In gid order: the library returns them in a map's order.
	for _, g := range slices.Sorted(slices.Values(gids)) {
		if !slices.Contains(id.Groups, uint32(g)) {
			id.Groups = append(id.Groups, uint32(g))
		}
	}
	return nil
}

// unknownUserError is a user spec the container's files cannot resolve.
type unknownUserError struct{ err error }

func (e unknownUserError) Error() string { return e.err.Error() }
func (e unknownUserError) Unwrap() error { return e.err }
