package compat

import (
	"testing"

	"github.com/pier-vm/pier/errdefs"
)

func TestCommitTag(t *testing.T) {
	for _, c := range []struct{ repo, tag, want string }{
		{"", "", ""},
		{"", "ignored", ""},
		{"newimg", "", "newimg:latest"},
		{"newimg", "1", "newimg:1"},
		{"docker.io/library/newimg", "1", "newimg:1"},
		{"localhost:5000/team/app", "v2", "localhost:5000/team/app:v2"},
		{"newimg:old", "new", "newimg:new"},
	} {
		got, err := CommitTag(c.repo, c.tag)
		if err != nil || got != c.want {
			t.Errorf("CommitTag(%q, %q) = %q, %v; want %q", c.repo, c.tag, got, err, c.want)
		}
	}
	for _, c := range []struct{ repo, tag, want string }{
		{"UPPER", "", "invalid reference format: repository name (library/UPPER) must be lowercase"},
		{"newimg", "bad tag", "invalid tag format"},
		{"newimg@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "", "cannot import digest reference"},
	} {
		_, err := CommitTag(c.repo, c.tag)
		if err == nil || err.Error() != c.want || !errdefs.IsInvalidParameter(err) {
			t.Errorf("CommitTag(%q, %q) err = %v, want the invalid parameter %q", c.repo, c.tag, err, c.want)
		}
	}
}
