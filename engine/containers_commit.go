package engine

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"

	"github.com/pier-vm/pier/engine/commitconfig"
	"github.com/pier-vm/pier/engine/container"
	"github.com/pier-vm/pier/engine/image"
	"github.com/pier-vm/pier/errdefs"
)

// CommitOptions tune ContainerCommit (docker commit).
type CommitOptions struct {
	// Tag is the familiar repo:tag reference given to the new image, ""
	// for none.
	Tag     string
	Author  string
	Comment string
	// Pause holds a running container's writes to its writable layer
	// while the layer is read (Docker's default): the guest freezes the
	// layer's file system, since a VM whose vCPUs are stopped (docker
	// pause) cannot read it.
	Pause bool
	// Config, when set, is the request's config: the changes apply to it
	// instead of the container's, and what it leaves out comes from the
	// container's (dockerd's merge).
	Config *container.Config
	// Changes are Dockerfile instructions (commitconfig.ApplyChanges).
	Changes []string
}

// emptyLayer is the layer of a container that never ran: an empty tar.
var emptyLayer = make([]byte, 1024)

// ContainerCommit makes an image of the container (docker commit): its
// image's layers, its writable layer on top, and its config with the
// changes applied. It returns the new image's ID. A running container's
// layer is read from its VM, a created or exited one's through a
// maintenance VM; a paused container's frozen guest cannot be read.
func (s *Containers) ContainerCommit(ctx context.Context, ref string, opts CommitOptions) (string, error) {
	x, err := s.get(ref)
	if err != nil {
		return "", err
	}
	x.mu.Lock()
	removing, running, c := x.removing || x.removed, x.run != nil, x.c
	x.mu.Unlock()
	switch {
	case c.State.Dead:
		return "", errdefs.Conflictf("You cannot commit container %s which is Dead", c.ID)
	case removing:
		return "", errdefs.Conflictf("You cannot commit container %s which is being removed", c.ID)
	}
	base := c.Config
	if opts.Config != nil {
		base = *opts.Config
	}
	cfg, err := commitconfig.ApplyChanges(base, opts.Changes)
	if err != nil {
		return "", err
	}
	cfg = commitconfig.Merge(cfg, c.Config)

	layer, release, err := s.writableLayer(ctx, x, opts.Pause && running)
	if err != nil {
		return "", err
	}
	defer release()
	img, err := s.images.Commit(ctx, image.CommitRequest{
		Parent:              c.ImageID,
		Layer:               layer,
		Config:              commitconfig.ImageConfig(cfg),
		HealthStartInterval: commitconfig.HealthStartInterval(cfg),
		Author:              opts.Author,
		Comment:             opts.Comment,
		CreatedBy:           strings.Join(c.Config.Cmd, " "),
		ContainerID:         c.ID,
		Tag:                 opts.Tag,
	})
	if err != nil {
		return "", err
	}
	s.publish(x.snapshot(), "commit", map[string]string{"comment": opts.Comment, "imageID": img.ID, "imageRef": opts.Tag})
	return img.ID, nil
}

// writableLayer returns x's writable layer as a layer tar and the
// function that releases it (and the VM that reads it).
func (s *Containers) writableLayer(ctx context.Context, x *ctr, freeze bool) (io.Reader, func(), error) {
	if x.running() == nil {
		if _, err := os.Stat(s.writableDisk(x.snapshot().ID)); os.IsNotExist(err) {
			return bytes.NewReader(emptyLayer), func() {}, nil
		}
	}
	fs, release, err := s.files(ctx, x)
	if err != nil {
		return nil, nil, err
	}
	rc, err := fs.Layer(ctx, freeze)
	if err != nil {
		release()
		return nil, nil, err
	}
	return rc, func() { rc.Close(); release() }, nil
}
