// Package image pulls images by platform with go-containerregistry, keeps them
// in a content-addressed store under the data root, and builds each image's
// read-only root disk (ext4) once per manifest digest.
package image

import (
	"context"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/pier-vm/pier/engine/platform"
)

// Image is one stored image: one platform's manifest and its config.
type Image struct {
	// ID is the config digest, "sha256:<hex>" (Docker's image ID).
	ID string
	// ManifestDigest is the digest of the platform's own manifest (the child
	// of an index): the store key.
	ManifestDigest string
	// RepoTags and RepoDigests are in Docker's familiar form
	// ("busybox:latest", "127.0.0.1:5000/x/busybox@sha256:...").
	RepoTags    []string
	RepoDigests []string
	// Platform comes from the pulled config, never from the request.
	Platform platform.Platform
	Created  time.Time
	// Size is the sum of the uncompressed layer sizes.
	Size   int64
	Config v1.ConfigFile
	Layers []Layer
}

// Layer is one layer of an image as stored.
type Layer struct {
	Digest    string // compressed blob digest
	DiffID    string // uncompressed digest
	MediaType string
	Size      int64 // compressed size
}

// Progress is one line of a pull or load: the service emits every line a
// Docker client expects ("Pulling from ...", per-layer "Pulling fs layer",
// "Downloading" with Current/Total, "Download complete", "Pull complete",
// "Digest: ...", and the final "Status: ..." line).
type Progress struct {
	ID      string // short layer id or tag; "" for global lines
	Status  string
	Current int64
	Total   int64
}

// Auth holds registry credentials (decoded from X-Registry-Auth).
type Auth struct {
	Username      string
	Password      string
	IdentityToken string
	RegistryToken string
	ServerAddress string
}

// DeleteItem is one line of an image removal: either an untagged reference
// or a deleted image ID.
type DeleteItem struct {
	Untagged string
	Deleted  string
}

// RemoveOptions tune Remove.
type RemoveOptions struct {
	Force   bool
	NoPrune bool
	// InUse reports a container that uses the image with this ID, if any.
	InUse func(imageID string) (containerID string, used bool)
}

// API is what the engine needs from the image service.
type API interface {
	// Pull pulls ref ("busybox", "busybox:1", "host:5000/x@sha256:...") for
	// plat (nil = host platform) and reports progress. Errors before the
	// first progress line are classified (errdefs): unknown repository or tag
	// -> not found; bad reference or platform -> invalid parameter.
	Pull(ctx context.Context, ref string, plat *platform.Platform, auth *Auth, progress func(Progress)) (*Image, error)
	// Resolve finds a local image by ID (full or unique prefix, with or without
	// "sha256:"), name[:tag] or name@digest. A non-nil plat must match the
	// image's recorded platform. Not found -> errdefs not found, with
	// Docker's text "No such image: <ref>".
	Resolve(ref string, plat *platform.Platform) (*Image, error)
	List() ([]*Image, error)
	Tag(source, repo, tag string) error
	Remove(ref string, opts RemoveOptions) ([]DeleteItem, error)
	// Prune removes dangling images (all unused with danglingOnly=false).
	Prune(danglingOnly bool, inUse func(imageID string) bool) (deleted []DeleteItem, reclaimed int64, err error)
	// Save writes a `docker save` tarball of refs.
	Save(ctx context.Context, refs []string, w io.Writer) error
	// Load reads a `docker save` tarball and returns the loaded references
	// (tags, or IDs for untagged images).
	Load(ctx context.Context, r io.Reader, progress func(Progress)) ([]string, error)
	// RootDisk returns the path of the image's read-only ext4 root disk,
	// building and caching it on first use.
	RootDisk(ctx context.Context, img *Image) (string, error)
}
