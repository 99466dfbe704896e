package engine

import (
	"context"
	"io"
	"maps"
	"strconv"

	"github.com/distribution/reference"

	"github.com/pier-vm/pier/engine/events"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/engine/platform"
)

// imageEvents is the image service as the engine hands it out: what
// changes the images also goes to `docker events` (type image), with the
// actors and attributes dockerd gives them (checked against Debian's
// dockerd 20.10): pull and push name the reference ("busybox:latest",
// attribute name "busybox"); tag names the image ID with the new tag as
// name; untag, delete, load, save and import name the image ID twice;
// every event but delete carries the image's labels; a prune ends with a
// prune event carrying what it reclaimed. The builder's own pulls and
// commits do not go through here (BuildKit's, which dockerd does not
// report either).
type imageEvents struct {
	image.API
	bus *events.Bus
}

var _ image.API = imageEvents{}

// publish sends one image event.
func (s imageEvents) publish(action, id, name string, labels map[string]string) {
	attrs := maps.Clone(labels)
	if attrs == nil {
		attrs = map[string]string{}
	}
	if name != "" {
		attrs["name"] = name
	}
	s.bus.Publish(events.Event{Type: events.TypeImage, Action: action, Actor: events.Actor{ID: id, Attributes: attrs}})
}

// labelsOf is the labels of the local image ref names (nil when none).
func (s imageEvents) labelsOf(ref string) map[string]string {
	img, err := s.API.Resolve(ref, nil)
	if err != nil || img.Config.Config.Labels == nil {
		return nil
	}
	return img.Config.Config.Labels
}

// publishByID sends action for each image refs name once, in order, with
// the ID as actor and name (load, save).
func (s imageEvents) publishByID(action string, refs []string) {
	seen := map[string]bool{}
	for _, ref := range refs {
		img, err := s.API.Resolve(ref, nil)
		if err != nil || seen[img.ID] {
			continue
		}
		seen[img.ID] = true
		s.publish(action, img.ID, img.ID, img.Config.Config.Labels)
	}
}

// familiar is ref as dockerd names it in events ("busybox:latest") and its
// repository ("busybox"); ok is false for a reference that does not parse.
func familiar(ref string) (full, name string, ok bool) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", false
	}
	named = reference.TagNameOnly(named)
	return reference.FamiliarString(named), reference.FamiliarName(named), true
}

func (s imageEvents) Pull(ctx context.Context, ref string, plat *platform.Platform, auth *image.Auth, progress func(image.Progress)) (*image.Image, error) {
	img, err := s.API.Pull(ctx, ref, plat, auth, progress)
	if err != nil {
		return img, err
	}
	if full, name, ok := familiar(ref); ok {
		s.publish("pull", full, name, img.Config.Config.Labels)
	}
	return img, nil
}

func (s imageEvents) Push(ctx context.Context, repo, tag string, plat *platform.Platform, auth *image.Auth, progress func(image.Progress)) error {
	named, err := reference.ParseNormalizedNamed(repo)
	if err != nil {
		return s.API.Push(ctx, repo, tag, plat, auth, progress)
	}
	return s.API.Push(ctx, repo, tag, plat, auth, func(p image.Progress) {
		progress(p)
		if p.Pushed == nil {
			return
		}
		// Each tag as it is written, as dockerd does: an error with a
		// later tag does not take back the ones pushed.
		tagged, err := reference.WithTag(reference.TrimNamed(named), p.Pushed.Tag)
		if err != nil {
			return
		}
		full := reference.FamiliarString(tagged)
		s.publish("push", full, reference.FamiliarName(tagged), s.labelsOf(full))
	})
}

func (s imageEvents) Tag(source, repo, tag string) error {
	if err := s.API.Tag(source, repo, tag); err != nil {
		return err
	}
	ref := repo
	if tag != "" {
		ref += ":" + tag
	}
	full, _, ok := familiar(ref)
	if !ok {
		return nil
	}
	if img, err := s.API.Resolve(full, nil); err == nil {
		s.publish("tag", img.ID, full, img.Config.Config.Labels)
	}
	return nil
}

// refIndex maps every tag and digest reference of the local images to
// its image, taken before a prune so that an untagged reference can be
// told by the image it named.
func (s imageEvents) refIndex() map[string]*image.Image {
	imgs, _ := s.API.List()
	out := map[string]*image.Image{}
	for _, img := range imgs {
		for _, r := range append(append([]string{img.ID}, img.RepoTags...), img.RepoDigests...) {
			out[r] = img
		}
	}
	return out
}

// publishRemoval sends untag and delete events for items, in their order.
func (s imageEvents) publishRemoval(items []image.DeleteItem, before map[string]*image.Image, fallback *image.Image) {
	for _, it := range items {
		switch {
		case it.Untagged != "":
			img := before[it.Untagged]
			if img == nil {
				img = fallback
			}
			if img != nil {
				s.publish("untag", img.ID, img.ID, img.Config.Config.Labels)
			}
		case it.Deleted != "":
			s.publish("delete", it.Deleted, it.Deleted, nil)
		}
	}
}

// Remove's untagged references are all the image ref names.
func (s imageEvents) Remove(ref string, opts image.RemoveOptions) ([]image.DeleteItem, error) {
	target, _ := s.API.Resolve(ref, nil)
	items, err := s.API.Remove(ref, opts)
	s.publishRemoval(items, nil, target)
	return items, err
}

func (s imageEvents) Prune(danglingOnly bool, inUse func(imageID string) bool) ([]image.DeleteItem, int64, error) {
	before := s.refIndex()
	items, reclaimed, err := s.API.Prune(danglingOnly, inUse)
	s.publishRemoval(items, before, nil)
	if err == nil {
		s.bus.Publish(events.Event{Type: events.TypeImage, Action: "prune", Actor: events.Actor{
			Attributes: map[string]string{"reclaimed": strconv.FormatInt(reclaimed, 10)},
		}})
	}
	return items, reclaimed, err
}

func (s imageEvents) Save(ctx context.Context, refs []string, w io.Writer) error {
	if err := s.API.Save(ctx, refs, w); err != nil {
		return err
	}
	s.publishByID("save", refs)
	return nil
}

func (s imageEvents) Load(ctx context.Context, r io.Reader, progress func(image.Progress)) ([]string, error) {
	loaded, err := s.API.Load(ctx, r, progress)
	s.publishByID("load", loaded)
	return loaded, err
}

func (s imageEvents) Commit(ctx context.Context, req image.CommitRequest) (*image.Image, error) {
	img, err := s.API.Commit(ctx, req)
	if err != nil {
		return img, err
	}
	if req.Tag != "" {
		if full, _, ok := familiar(req.Tag); ok {
			s.publish("tag", img.ID, full, img.Config.Config.Labels)
		}
	}
	return img, nil
}
