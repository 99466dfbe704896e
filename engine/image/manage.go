package image

import (
	"fmt"
	"os"

	"github.com/distribution/reference"

	"github.com/pier-vm/pier/errdefs"
)

// Tag points repo:tag at the image source resolves to.
func (s *Service) Tag(source, repo, tag string) error {
	if tag == "" {
		tag = "latest"
	}
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return errdefs.InvalidParameterf("invalid reference format: %s", repo)
	}
	if _, ok := named.(reference.Digested); ok {
		return errdefs.InvalidParameterf("refusing to create a tag with a digest reference")
	}
	if _, ok := named.(reference.Tagged); ok {
		return errdefs.InvalidParameterf("invalid reference format: %s: repository name must not carry a tag", repo)
	}
	tagged, err := reference.WithTag(named, tag)
	if err != nil {
		return errdefs.InvalidParameterf("invalid tag format: %s", tag)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(source)
	if rec == nil {
		return errdefs.NotFoundf("No such image: %s", source)
	}
	s.refs[reference.FamiliarString(tagged)] = rec.ManifestDigest
	return s.saveRefsLocked()
}

// Remove untags or deletes an image with Docker's semantics.
func (s *Service) Remove(ref string, opts RemoveOptions) ([]DeleteItem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.lookupLocked(ref)
	if rec == nil {
		return nil, errdefs.NotFoundf("No such image: %s", ref)
	}
	var tags []string
	for r, d := range s.refs {
		if d == rec.ManifestDigest && !isDigestRef(r) {
			tags = append(tags, r)
		}
	}
	var byName string
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if _, ok := named.(reference.Digested); !ok {
			candidate := reference.FamiliarString(reference.TagNameOnly(named))
			if s.refs[candidate] == rec.ManifestDigest {
				byName = candidate
			}
		}
	}
	var cid string
	inUse := false
	if opts.InUse != nil {
		cid, inUse = opts.InUse(rec.ID)
	}
	var items []DeleteItem
	if byName != "" && len(tags) > 1 {
		// Another tag keeps the image: only untag.
		delete(s.refs, byName)
		return []DeleteItem{{Untagged: byName}}, s.saveRefsLocked()
	}
	if byName == "" && len(tags) > 1 && !opts.Force {
		return nil, errdefs.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", shortID(rec.ID))
	}
	if inUse {
		if byName != "" && !opts.Force {
			return nil, errdefs.Conflictf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, shortID(cid), shortID(rec.ID))
		}
		if byName == "" {
			return nil, errdefs.Conflictf("conflict: unable to delete %s (cannot be forced) - image is being used by running container %s", shortID(rec.ID), shortID(cid))
		}
		// Forced by name while in use: untag only, like Docker.
		for _, t := range tags {
			delete(s.refs, t)
			items = append(items, DeleteItem{Untagged: t})
		}
		return items, s.saveRefsLocked()
	}
	for r, d := range s.refs {
		if d == rec.ManifestDigest {
			delete(s.refs, r)
			items = append(items, DeleteItem{Untagged: r})
		}
	}
	if opts.NoPrune && byName != "" {
		return items, s.saveRefsLocked()
	}
	if err := s.deleteLocked(rec); err != nil {
		return items, err
	}
	items = append(items, DeleteItem{Deleted: rec.ID})
	return items, s.saveRefsLocked()
}

// deleteLocked removes rec and the blobs no other image uses.
func (s *Service) deleteLocked(rec *record) error {
	delete(s.images, rec.ManifestDigest)
	if err := os.Remove(s.recordPath(rec.ManifestDigest)); err != nil && !os.IsNotExist(err) {
		return err
	}
	used := map[string]bool{}
	for _, other := range s.images {
		used[other.ID], used[other.ManifestDigest] = true, true
		for _, l := range other.Layers {
			used[l.Digest] = true
		}
	}
	blobs := []string{rec.ID, rec.ManifestDigest}
	for _, l := range rec.Layers {
		blobs = append(blobs, l.Digest)
	}
	for _, b := range blobs {
		if !used[b] {
			os.Remove(s.blobPath(b))
		}
	}
	os.Remove(s.rootDiskPath(rec.ManifestDigest))
	return nil
}

// Prune removes dangling images (every unused image when !danglingOnly).
func (s *Service) Prune(danglingOnly bool, inUse func(imageID string) bool) ([]DeleteItem, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tagged := map[string]bool{}
	for r, d := range s.refs {
		if !isDigestRef(r) {
			tagged[d] = true
		}
	}
	var items []DeleteItem
	var reclaimed int64
	for _, rec := range s.images {
		if (danglingOnly && tagged[rec.ManifestDigest]) || (inUse != nil && inUse(rec.ID)) {
			continue
		}
		for r, d := range s.refs {
			if d == rec.ManifestDigest {
				delete(s.refs, r)
				items = append(items, DeleteItem{Untagged: r})
			}
		}
		if err := s.deleteLocked(rec); err != nil {
			return items, reclaimed, fmt.Errorf("pruning %s: %w", rec.ID, err)
		}
		reclaimed += rec.Size
		items = append(items, DeleteItem{Deleted: rec.ID})
	}
	return items, reclaimed, s.saveRefsLocked()
}
