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
	// HealthStartInterval is the config's Healthcheck.StartInterval
	// (HEALTHCHECK --start-interval), which go-containerregistry's config
	// type has no field for.
	HealthStartInterval time.Duration
	Layers              []Layer
}

// Layer is one layer of an image as stored.
type Layer struct {
	Digest    string // compressed blob digest
	DiffID    string // uncompressed digest
	MediaType string
	Size      int64 // compressed size
	// DiffSize is the uncompressed size, counted when the layer was
	// stored (0 when unknown); kept in the image's record, not here.
	DiffSize int64 `json:"-"`
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
	// Pushed, on the last line of each pushed tag, is what a push wrote
	// (Docker's `aux` object).
	Pushed *Pushed
}

// Pushed is one tag written by a push: its manifest's digest and size.
type Pushed struct {
	Tag    string
	Digest string
	Size   int
}

// HistoryItem is one entry of an image's history, newest first: one per
// entry of the config's history.
type HistoryItem struct {
	// ID is the image's ID for the newest entry and "<missing>" for the
	// others (their images are not stored on their own), as in dockerd.
	ID        string
	Created   time.Time // zero when the history has no date
	CreatedBy string
	// Tags are the image's tags, on the newest entry only.
	Tags    []string
	Size    int64 // the entry's layer, uncompressed; 0 for empty layers
	Comment string
}

// SearchResult is one repository found by a registry's search.
type SearchResult struct {
	Name        string
	Description string
	StarCount   int
	IsOfficial  bool
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
	// Commit stores a new image: a stored image plus one layer and a new
	// run configuration (docker commit); see CommitRequest.
	Commit(ctx context.Context, req CommitRequest) (*Image, error)
	// RootDisk returns the path of the image's read-only ext4 root disk,
	// building and caching it on first use.
	RootDisk(ctx context.Context, img *Image) (string, error)
	// History lists the history of a local image, newest first.
	History(ref string, plat *platform.Platform) ([]HistoryItem, error)
	// Push writes the stored images of repo to its registry: the one
	// tagged tag, or every tag of repo when tag is "". The first progress
	// line names the repository; later errors come after it.
	Push(ctx context.Context, repo, tag string, plat *platform.Platform, auth *Auth, progress func(Progress)) error
	// Login checks auth against the registry auth.ServerAddress names
	// (Docker Hub when empty) and returns the identity token the registry
	// gave, usually "".
	Login(ctx context.Context, auth Auth) (identityToken string, err error)
	// Search asks the index that term names (a registry host before the
	// first slash, Docker Hub otherwise) for repositories matching the
	// rest; limit 0 means 25.
	Search(ctx context.Context, term string, limit int, auth *Auth) ([]SearchResult, error)
	// Distribution asks the registry for the manifest ref names.
	Distribution(ctx context.Context, ref string, auth *Auth) (*Distribution, error)
}
