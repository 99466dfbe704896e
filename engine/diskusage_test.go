package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/engine/container"
)

func TestDiskUsageCountsContainersImagesAndVolumes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c1 := f.createWith(t, "c1", container.HostConfig{Binds: []string{"data:/data"}})
	c2 := f.create(t, "c2")
	// A sparse writable disk: 8 MiB long, 1 MiB written.
	disk, err := os.Create(filepath.Join(f.root, c1, "rw.img"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disk.WriteAt(make([]byte, 1<<20), 0); err != nil {
		t.Fatal(err)
	}
	if err := disk.Truncate(8 << 20); err != nil {
		t.Fatal(err)
	}
	disk.Close()
	vol, err := f.c.VolumeInspect("data")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol.Mountpoint, "f"), make([]byte, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.VolumeCreate(ctx, "unused", "", nil, nil); err != nil {
		t.Fatal(err)
	}

	du, err := f.c.DiskUsage(ctx, engine.DiskUsageOptions{Containers: true, Images: true, Volumes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(du.Images) != 1 || du.Images[0].ID != f.busybox || du.Images[0].Containers != 2 {
		t.Fatalf("images: %+v", du.Images)
	}
	sizes := map[string]engine.ContainerUsage{}
	for _, c := range du.Containers {
		sizes[c.ID] = c
	}
	if rw := sizes[c1].SizeRw; rw < 1<<20 || rw >= 8<<20 || sizes[c1].SizeRootFs != rw+du.Images[0].Size {
		t.Fatalf("c1: SizeRw %d SizeRootFs %d (allocated blocks of the sparse disk wanted)", rw, sizes[c1].SizeRootFs)
	}
	if len(du.Containers) != 2 || sizes[c2].SizeRw != 0 {
		t.Fatalf("containers: %+v", du.Containers)
	}
	if rw, rootFs, err := f.c.ContainerSize("c1"); err != nil || rw != sizes[c1].SizeRw || rootFs != sizes[c1].SizeRootFs {
		t.Fatalf("ContainerSize(c1) = %d, %d, %v; system df says %d, %d", rw, rootFs, err, sizes[c1].SizeRw, sizes[c1].SizeRootFs)
	}
	if _, _, err := f.c.ContainerSize("nosuch"); err == nil {
		t.Fatal("ContainerSize of an unknown container")
	}
	vols := map[string]engine.VolumeUsage{}
	for _, v := range du.Volumes {
		vols[v.Name] = v
	}
	if vols["data"].Size != 3000 || vols["data"].RefCount != 1 || vols["unused"].RefCount != 0 || vols["unused"].Size != 0 {
		t.Fatalf("volumes: %+v", du.Volumes)
	}

	only, err := f.c.DiskUsage(ctx, engine.DiskUsageOptions{Volumes: true})
	if err != nil || only.Images != nil || only.Containers != nil || len(only.Volumes) != 2 {
		t.Fatalf("volumes only: %+v %v", only, err)
	}
}
