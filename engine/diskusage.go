package engine

import (
	"context"
	"io/fs"
	"os"
	"syscall"

	"github.com/pier-vm/pier/engine/image"
)

// diskUsage is the space a file really takes (sparse disks count only
// their allocated blocks).
func diskUsage(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return info.Size()
}

// DiskUsageOptions say which parts of `docker system df` to count.
type DiskUsageOptions struct {
	Containers, Images, Volumes bool
}

// DiskUsage is what `docker system df` shows. Only the parts asked for are
// filled.
type DiskUsage struct {
	// LayersSize is the uncompressed size of every stored layer, each
	// counted once however many images share it.
	LayersSize int64
	Images     []ImageUsage
	Containers []ContainerUsage
	Volumes    []VolumeUsage
}

// ImageUsage is one image in DiskUsage.
type ImageUsage struct {
	*image.Image
	// SharedSize is the size of the image's layers that other images
	// use too.
	SharedSize int64
	// Containers counts the containers (running or not) made from it.
	Containers int
}

// ContainerUsage is one container in DiskUsage.
type ContainerUsage struct {
	Summary
	// SizeRw is the space the container's writable disk takes on the host:
	// its allocated blocks (the disk is sparse), file system metadata
	// included.
	SizeRw int64
	// SizeRootFs is SizeRw plus the size of the container's image.
	SizeRootFs int64
}

// VolumeUsage is one volume in DiskUsage.
type VolumeUsage struct {
	VolumeInfo
	// Size is the bytes of the volume's files; RefCount the containers
	// mounting it.
	Size     int64
	RefCount int
}

// DiskUsage counts what the images, containers and volumes take.
func (s *Containers) DiskUsage(ctx context.Context, opts DiskUsageOptions) (*DiskUsage, error) {
	du := &DiskUsage{}
	var images []*image.Image
	if opts.Images || opts.Containers {
		var err error
		if images, err = s.images.List(); err != nil {
			return nil, err
		}
	}
	var all []Summary
	if opts.Images || opts.Containers {
		var err error
		if all, err = s.ContainerList(ListOptions{All: true}); err != nil {
			return nil, err
		}
	}
	if opts.Images {
		du.LayersSize, du.Images = imageUsage(images, all)
	}
	if opts.Containers {
		sizes := map[string]int64{}
		for _, img := range images {
			sizes[img.ID] = img.Size
		}
		for _, c := range all {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rw := s.writableSize(c.ID)
			du.Containers = append(du.Containers, ContainerUsage{Summary: c, SizeRw: rw, SizeRootFs: rw + sizes[c.ImageID]})
		}
	}
	if opts.Volumes {
		for _, v := range s.VolumeList() {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			du.Volumes = append(du.Volumes, VolumeUsage{VolumeInfo: v, Size: s.volumes.Size(v.Name), RefCount: len(v.UsedBy)})
		}
	}
	return du, nil
}

// writableSize is the space container id's writable disk takes on the
// host (its allocated blocks; 0 before its first start).
func (s *Containers) writableSize(id string) int64 {
	if info, err := os.Stat(s.writableDisk(id)); err == nil {
		return diskUsage(info)
	}
	return 0
}

// ContainerSize is a container's SizeRw and SizeRootFs (`docker ps -s`,
// `docker inspect -s`), as in DiskUsage.
func (s *Containers) ContainerSize(ref string) (rw, rootFs int64, err error) {
	x, err := s.get(ref)
	if err != nil {
		return 0, 0, err
	}
	c := x.snapshot()
	rw = s.writableSize(c.ID)
	rootFs = rw
	if img, err := s.images.Resolve(c.ImageID, nil); err == nil {
		rootFs += img.Size
	}
	return rw, rootFs, nil
}

// imageUsage counts the layers of images once each (by diff ID), what each
// image shares with others, and the containers using each.
func imageUsage(images []*image.Image, containers []Summary) (int64, []ImageUsage) {
	users := map[string]int{}
	for _, c := range containers {
		users[c.ImageID]++
	}
	owners := map[string]int{} // layer -> images using it
	size := map[string]int64{}
	for _, img := range images {
		seen := map[string]bool{}
		for _, l := range img.Layers {
			key := layerKey(l)
			if !seen[key] {
				seen[key] = true
				owners[key]++
				size[key] = l.DiffSize
			}
		}
	}
	var total int64
	for _, n := range size {
		total += n
	}
	out := make([]ImageUsage, 0, len(images))
	for _, img := range images {
		u := ImageUsage{Image: img, Containers: users[img.ID]}
		seen := map[string]bool{}
		for _, l := range img.Layers {
			key := layerKey(l)
			if !seen[key] && owners[key] > 1 {
				u.SharedSize += l.DiffSize
			}
			seen[key] = true
		}
		out = append(out, u)
	}
	return total, out
}

// layerKey identifies a layer's content: its diff ID, else its blob digest.
func layerKey(l image.Layer) string {
	if l.DiffID != "" {
		return l.DiffID
	}
	return l.Digest
}
