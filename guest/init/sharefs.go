//go:build linux

package init

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ninePTagsGlob finds the tags of the guest's virtio-9p devices (a
// variable for tests).
var ninePTagsGlob = "/sys/bus/virtio/drivers/9pnet_virtio/virtio*/mount_tag"

// ninePOptions: the 9P2000.L dialect; large messages; no page cache but
// for mmap, so what the host or another container writes is seen at once
// (as with virtio-fs) and shared writable mappings work; permission checks
// by the guest's kernel on the host's owners and modes.
const ninePOptions = "trans=virtio,version=9p2000.L,msize=524288,cache=mmap,access=client"

// mountShareFS mounts the host share tagged tag on dir. The host serves a
// share either over virtio-fs or over virtio-9p (when the guest has 9p:
// then a VM with shares can be a template's clone); the guest tells which
// by the 9p devices' tags.
func mountShareFS(tag, dir string, flags uintptr) error {
	if hasNinePTag(tag) {
		return unix.Mount(tag, dir, "9p", flags, ninePOptions)
	}
	return unix.Mount(tag, dir, "virtiofs", flags, "")
}

func hasNinePTag(tag string) bool {
	files, _ := filepath.Glob(ninePTagsGlob)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && strings.TrimRight(string(b), "\x00\n") == tag {
			return true
		}
	}
	return false
}
