//go:build linux

package agent

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Identity is who a process runs as.
type Identity struct {
	UID, GID uint32
	Groups   []uint32
	Home     string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

func readColonFile(path string, minFields int) [][]string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ":")
		if len(fields) >= minFields {
			rows = append(rows, fields)
		}
	}
	return rows
}

func readPasswd(root string) []passwdEntry {
	var out []passwdEntry
	for _, f := range readColonFile(filepath.Join(root, "etc/passwd"), 7) {
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 == nil && err2 == nil {
			out = append(out, passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid), home: f[5]})
		}
	}
	return out
}

func readGroups(root string) []groupEntry {
	var out []groupEntry
	for _, f := range readColonFile(filepath.Join(root, "etc/group"), 4) {
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			continue
		}
		var members []string
		if f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, groupEntry{name: f[0], gid: uint32(gid), members: members})
	}
	return out
}

// LookupUser resolves a Docker user spec ("", "uid", "uid:gid", "name",
// "name:group") against root's /etc/passwd and /etc/group, the way Docker
// does: a numeric uid need not exist; a name must.
func LookupUser(root, spec string) (Identity, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	users := readPasswd(root)
	id := Identity{Home: "/"}
	var name string
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		id.UID = uint32(n)
		for _, u := range users {
			if u.uid == id.UID {
				name, id.GID, id.Home = u.name, u.gid, u.home
				break
			}
		}
	} else {
		found := false
		for _, u := range users {
			if u.name == userPart {
				name, id.UID, id.GID, id.Home, found = u.name, u.uid, u.gid, u.home, true
				break
			}
		}
		if !found {
			return Identity{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	groups := readGroups(root)
	if hasGroup && groupPart != "" {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			id.GID = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					id.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return Identity{}, fmt.Errorf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	}
	if name != "" && !hasGroup {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && g.gid != id.GID {
					id.Groups = append(id.Groups, g.gid)
				}
			}
		}
	}
	if id.Home == "" {
		id.Home = "/"
	}
	return id, nil
}
