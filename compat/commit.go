package compat

import (
	"errors"

	"github.com/distribution/reference"

	"github.com/pier-vm/pier/errdefs"
)

// CommitTag turns docker commit's repo and tag query parameters into the
// familiar repo:tag reference the new image gets ("" when repo is empty:
// no tag), as dockerd's RepoTagReference does: the tag defaults to
// latest, a tag parameter replaces one in repo, a digest is refused. A
// bad reference is an invalid parameter with dockerd's words.
func CommitTag(repo, tag string) (string, error) {
	if repo == "" {
		return "", nil
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return "", errdefs.InvalidParameter(err)
	}
	if _, digested := named.(reference.Digested); digested {
		return "", errdefs.InvalidParameter(errors.New("cannot import digest reference"))
	}
	if tag == "" {
		return reference.FamiliarString(reference.TagNameOnly(named)), nil
	}
	tagged, err := reference.WithTag(named, tag)
	if err != nil {
		return "", errdefs.InvalidParameter(err)
	}
	return reference.FamiliarString(tagged), nil
}
