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

// ImagePrune removes dangling (or all unused) images no container uses.
func (e *Engine) ImagePrune(danglingOnly bool) ([]image.DeleteItem, int64, error) {
	return e.images.Prune(danglingOnly, func(id string) bool { _, used := e.imageUser(id); return used })
}

// RegistryLogin checks credentials against their registry (`docker login`)
// and returns the registry's identity token, usually "".
func (e *Engine) RegistryLogin(ctx context.Context, auth image.Auth) (string, error) {
	return e.images.Login(ctx, auth)
}
