package testimages

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Repository names and tags of the catalogue (see the package doc).
const (
	Busybox      = "busybox"       // tags Latest (OCI index) and DockerList
	BusyboxAMD64 = "busybox-amd64" // tag Latest
	BusyboxARM64 = "busybox-arm64" // tag Latest
	App          = "app"           // tag Latest
	Layers       = "layers"        // tag Latest

	Latest     = "latest"
	DockerList = "dockerlist"
)

// Entry is one named image of the Set: exactly one of Image and Index is set.
type Entry struct {
	Name  string // repository, e.g. "busybox"
	Tag   string
	Image v1.Image      // a single-platform manifest
	Index v1.ImageIndex // a multi-platform index or manifest list
}

// Ref returns "name:tag".
func (e Entry) Ref() string { return e.Name + ":" + e.Tag }

// Digest returns the digest of the entry's top-level manifest (the index
// digest for an index).
func (e Entry) Digest() (v1.Hash, error) {
	if e.Index != nil {
		return e.Index.Digest()
	}
	if e.Image != nil {
		return e.Image.Digest()
	}
	return v1.Hash{}, fmt.Errorf("test image %s is empty", e.Ref())
}

// Set is the whole catalogue of test images.
type Set struct {
	Entries []Entry
}

// Lookup returns the entry name:tag.
func (s *Set) Lookup(name, tag string) (Entry, bool) {
	for _, e := range s.Entries {
		if e.Name == name && e.Tag == tag {
			return e, true
		}
	}
	return Entry{}, false
}

// Image returns the single-platform image name:tag.
func (s *Set) Image(name, tag string) (v1.Image, error) {
	e, ok := s.Lookup(name, tag)
	if !ok {
		return nil, fmt.Errorf("no test image %s:%s", name, tag)
	}
	if e.Image == nil {
		return nil, fmt.Errorf("test image %s:%s is an index, not an image", name, tag)
	}
	return e.Image, nil
}

// Index returns the multi-platform index name:tag.
func (s *Set) Index(name, tag string) (v1.ImageIndex, error) {
	e, ok := s.Lookup(name, tag)
	if !ok {
		return nil, fmt.Errorf("no test image %s:%s", name, tag)
	}
	if e.Index == nil {
		return nil, fmt.Errorf("test image %s:%s is an image, not an index", name, tag)
	}
	return e.Index, nil
}
