package engine

import (
	"context"

	"github.com/pier-vm/pier/engine/image"
)

// imageUser returns a container that uses the image with this ID.
func (e *Engine) imageUser(imageID string) (string, bool) {
	all, _ := e.ContainerList(ListOptions{All: true})
	for _, c := range all {
		if c.ImageID == imageID {
			return c.ID, true
		}
	}
	return "", false
}

// ImageRemove removes an image, refusing (unless forced) one that a
// container uses.
func (e *Engine) ImageRemove(ref string, force, noPrune bool) ([]image.DeleteItem, error) {
	return e.images.Remove(ref, image.RemoveOptions{Force: force, NoPrune: noPrune, InUse: e.imageUser})
}

// ImagePrune removes dangling (or all unused) images no container uses;
// with opts, as dockerd, only those created before opts.Until and
// matching its labels. An image stored after the filters were weighed is
// kept.
func (e *Engine) ImagePrune(danglingOnly bool, opts PruneOptions) ([]image.DeleteItem, int64, error) {
	filtered := !opts.Until.IsZero() || len(opts.Labels) > 0 || len(opts.NotLabels) > 0
	prunable := map[string]bool{}
	if filtered {
		imgs, err := e.images.List()
		if err != nil {
			return nil, 0, err
		}
		for _, img := range imgs {
			labels := img.Config.Config.Labels
			if !opts.Until.IsZero() && (img.Created.IsZero() || img.Created.After(opts.Until)) ||
				!matchLabels(labels, opts.Labels) || anyLabel(labels, opts.NotLabels) {
				continue
			}
			prunable[img.ID] = true
		}
	}
	return e.images.Prune(danglingOnly, func(id string) bool {
		if filtered && !prunable[id] {
			return true // kept: the filters leave it out
		}
		_, used := e.imageUser(id)
		return used
	})
}

// RegistryLogin checks credentials against their registry (`docker login`)
// and returns the registry's identity token, usually "".
func (e *Engine) RegistryLogin(ctx context.Context, auth image.Auth) (string, error) {
	return e.images.Login(ctx, auth)
}
