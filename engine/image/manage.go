package image

import (
	"maps"
	"os"
	"sort"

	"github.com/distribution/reference"

	"github.com/pier-vm/pier/errdefs"
)

// Tag points repo:tag at the image source resolves to. repo may carry the
// tag itself when tag is empty; the default tag is latest.
func (s *Service) Tag(source, repo, tag string) error {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", repo)
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidParameterf("refusing to create a tag with a digest reference")
	}
	var tagged reference.Named
	if tag != "" {
		if _, ok := named.(reference.Tagged); ok {
			return errdefs.InvalidParameterf("invalid reference format: %s: the repository already has a tag", repo)
		}
		if tagged, err = reference.WithTag(named, tag); err != nil {
			return errdefs.InvalidParameterf("invalid tag format: %s", tag)
		}
	} else {
		tagged = reference.TagNameOnly(named)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(source, nil)
	if rec == nil {
		return errdefs.NotFoundf("No such image: %s", source)
	}
	refs := maps.Clone(s.refs)
	refs[reference.FamiliarString(tagged)] = rec.ManifestDigest
	return s.setRefsLocked(refs)
}

// setRefsLocked persists refs, then makes it the reference map; s.mu is held.
func (s *Service) setRefsLocked(refs map[string]string) error {
	if err := writeJSONAtomic(s.refsPath(), refs); err != nil {
		return err
	}
	s.refs = refs
	return nil
}

// refsOfLocked lists the references (tags and digests) to rec; s.mu is held.
func (s *Service) refsOfLocked(refs map[string]string, rec *record) []string {
	var out []string
	for r, d := range refs {
		if d == rec.ManifestDigest {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}

// isSingleReference is Docker's rule: at most one tag, and every reference
// in the tag's repository.
func isSingleReference(refs []string) bool {
	repos := map[string]bool{}
	tags := 0
	for _, r := range refs {
		named, err := reference.ParseNormalizedNamed(r)
		if err != nil {
			continue
		}
		repos[reference.FamiliarName(named)] = true
		if !isDigestRef(r) {
			tags++
		}
	}
	return len(refs) > 0 && tags <= 1 && len(repos) == 1
}

// nameKeyLocked returns the reference map key ref names, if it names one
// (a tag, defaulting to latest, or a repo@digest); s.mu is held.
func (s *Service) nameKeyLocked(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	key := reference.FamiliarString(reference.TagNameOnly(named))
	if _, ok := s.refs[key]; !ok {
		return ""
	}
	return key
}

// Remove untags or deletes an image with Docker's semantics; see API.
func (s *Service) Remove(ref string, opts RemoveOptions) ([]DeleteItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(ref, nil)
	if rec == nil {
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	cid, used := "", false
	if opts.InUse != nil {
		cid, used = opts.InUse(rec.ID)
	}
	refs := maps.Clone(s.refs)
	var items []DeleteItem
	untag := func(r string) {
		delete(refs, r)
		items = append(items, DeleteItem{Untagged: r})
	}
	if key := s.nameKeyLocked(ref); key != "" {
		if !opts.Force && used && isSingleReference(s.refsOfLocked(refs, rec)) {
			return nil, errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, shortID(cid), shortID(rec.ID))
		}
		untag(key)
		if !isDigestRef(key) {
			// The repository's last tag gone, its digest references go too.
			repo := repoOf(key)
			remaining := s.refsOfLocked(refs, rec)
			tagLeft := false
			for _, r := range remaining {
				tagLeft = tagLeft || (!isDigestRef(r) && repoOf(r) == repo)
			}
			for _, r := range remaining {
				if !tagLeft && isDigestRef(r) && repoOf(r) == repo {
					untag(r)
				}
			}
		}
		if len(s.refsOfLocked(refs, rec)) > 0 || opts.NoPrune || used {
			// Still referenced, asked to keep it, or (forced) in use: the
			// image stays, as in Docker.
			return items, s.setRefsLocked(refs)
		}
	} else {
		if used {
			return nil, errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", shortID(rec.ID), shortID(cid))
		}
		all := s.refsOfLocked(refs, rec)
		if len(all) > 0 && !isSingleReference(all) && !opts.Force {
			return nil, errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(rec.ID))
		}
		for _, r := range all {
			untag(r)
		}
	}
	if err := s.setRefsLocked(refs); err != nil {
		return nil, err
	}
	if err := s.deleteLocked(rec); err != nil {
		return items, err
	}
	return append(items, DeleteItem{Deleted: rec.ID}), nil
}

// repoOf is the familiar repository of a familiar reference.
func repoOf(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ""
	}
	return reference.FamiliarName(named)
}

// deleteLocked removes rec (no reference points at it any more), its root
// disk, and the blobs no other image or pull in progress uses; s.mu is held.
func (s *Service) deleteLocked(rec *record) error {
	if err := os.Remove(s.recordPath(rec.ManifestDigest)); err != nil && !os.IsNotExist(err) {
		return err
	}
	delete(s.images, rec.ManifestDigest)
	os.Remove(s.rootDiskPath(rec.ManifestDigest))
	used := s.usedBlobsLocked()
	for _, b := range append(layerDigests(rec), rec.ID, rec.ManifestDigest) {
		if !used[b] {
			if err := os.Remove(s.blobPath(b)); err != nil && !os.IsNotExist(err) {
				s.log.Warn("removing an unused blob", "blob", b, "err", err)
			}
		}
	}
	return nil
}

// Prune removes dangling images (no tag points at them), or every image when
// !danglingOnly, sparing those inUse reports; see API.
func (s *Service) Prune(danglingOnly bool, inUse func(imageID string) bool) ([]DeleteItem, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tagged := map[string]bool{}
	for r, d := range s.refs {
		if !isDigestRef(r) {
			tagged[d] = true
		}
	}
	refs := maps.Clone(s.refs)
	var victims []*record
	untagged := map[*record][]DeleteItem{}
	for _, rec := range s.sortedLocked() {
		if (danglingOnly && tagged[rec.ManifestDigest]) || (inUse != nil && inUse(rec.ID)) {
			continue
		}
		for _, r := range s.refsOfLocked(refs, rec) {
			delete(refs, r)
			untagged[rec] = append(untagged[rec], DeleteItem{Untagged: r})
		}
		victims = append(victims, rec)
	}
	if len(victims) == 0 {
		return nil, 0, nil
	}
	if err := s.setRefsLocked(refs); err != nil {
		return nil, 0, err
	}
	var items []DeleteItem
	var reclaimed int64
	for _, rec := range victims {
		items = append(items, untagged[rec]...)
		if err := s.deleteLocked(rec); err != nil {
			return items, reclaimed, err
		}
		reclaimed += rec.Size
		items = append(items, DeleteItem{Deleted: rec.ID})
	}
	return items, reclaimed, nil
}
