package compat

import (
	"strings"
	"time"

	"github.com/docker/docker/api/types/filters"
	imagetypes "github.com/docker/docker/api/types/image"
	timetypes "github.com/docker/docker/api/types/time"

	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

// imageListKeys are the filters `docker images` accepts.
var imageListKeys = map[string]bool{
	"reference": true, "dangling": true, "label": true, "before": true, "since": true, "until": true,
}

// ImageListFilter is the filter of GET /images/json.
type ImageListFilter struct {
	args          filters.Args
	all           bool
	before, since time.Time // created strictly before / after; zero = unset
	until         time.Time
}

// NewImageListFilter validates `docker images` filters. before and since
// name images, which resolve looks up; until is a timestamp or duration.
func NewImageListFilter(args filters.Args, all bool, resolve func(ref string) (*image.Image, error)) (ImageListFilter, error) {
	f := ImageListFilter{args: args, all: all}
	if err := args.Validate(imageListKeys); err != nil {
		return f, errdefs.InvalidParameter(err)
	}
	for _, v := range args.Get("dangling") {
		if v != "true" && v != "false" && v != "1" && v != "0" {
			return f, errdefs.InvalidParameterf("invalid filter 'dangling=%s'", v)
		}
	}
	for key, dst := range map[string]*time.Time{"before": &f.before, "since": &f.since} {
		for _, ref := range args.Get(key) {
			img, err := resolve(ref)
			if err != nil {
				return f, err
			}
			*dst = img.Created
		}
	}
	for _, v := range args.Get("until") {
		ts, err := timetypes.GetTimestamp(v, time.Now())
		var sec, nsec int64
		if err == nil {
			sec, nsec, err = timetypes.ParseTimestamps(ts, 0)
		}
		if err != nil {
			return f, errdefs.InvalidParameterf("invalid filter 'until=%s': %v", v, err)
		}
		f.until = time.Unix(sec, nsec)
	}
	return f, nil
}

// Match says whether img is listed.
func (f ImageListFilter) Match(img *image.Image) bool {
	dangling := len(img.RepoTags) == 0
	if f.args.Contains("dangling") {
		want := f.args.ExactMatch("dangling", "true") || f.args.ExactMatch("dangling", "1")
		if want != dangling {
			return false
		}
	} else if dangling && !f.all {
		return false
	}
	if refs := f.args.Get("reference"); len(refs) > 0 {
		ok := false
		for _, p := range refs {
			ok = ok || ImageMatchesReference(img, p)
		}
		if !ok {
			return false
		}
	}
	if f.args.Contains("label") && !f.args.MatchKVList("label", img.Config.Config.Labels) {
		return false
	}
	if !f.before.IsZero() && !img.Created.Before(f.before) {
		return false
	}
	if !f.since.IsZero() && !img.Created.After(f.since) {
		return false
	}
	if !f.until.IsZero() && img.Created.After(f.until) {
		return false
	}
	return true
}

// Summary is img's `docker images` entry. Under a reference filter, like
// dockerd, it carries only the tags that match (and the digests of their
// repositories), so `docker images` shows only the matching lines.
func (f ImageListFilter) Summary(img *image.Image) imagetypes.Summary {
	sum := ImageSummary(img)
	refs := f.args.Get("reference")
	if len(refs) == 0 {
		return sum
	}
	repos := map[string]bool{}
	tags := []string{}
	for _, t := range img.RepoTags {
		one := &image.Image{RepoTags: []string{t}}
		for _, p := range refs {
			if ImageMatchesReference(one, p) {
				tags = append(tags, t)
				repos[repoOf(t)] = true
				break
			}
		}
	}
	digests := []string{}
	for _, d := range img.RepoDigests {
		if repo, _, ok := strings.Cut(d, "@"); ok && repos[repo] {
			digests = append(digests, d)
		}
	}
	sum.RepoTags, sum.RepoDigests = tags, digests
	return sum
}

// repoOf is the repository of "repo:tag" (a registry port is not a tag).
func repoOf(tag string) string {
	if i := strings.LastIndex(tag, ":"); i > strings.LastIndex(tag, "/") {
		return tag[:i]
	}
	return tag
}
