package testimages

const passwd = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const group = `root:x:0:
app:x:1000:
extra:x:1001:app
nobody:x:65534:
`

// rootFiles is the busybox root filesystem: the binary, one symlink per
// applet, the users and the usual directories.
func rootFiles(busybox []byte, applets []string) []file {
	files := []file{
		dir("bin/", 0o755, 0, 0),
		reg("bin/busybox", 0o755, busybox),
	}
	for _, a := range applets {
		files = append(files, symlink("bin/"+a, "busybox"))
	}
	return append(files,
		dir("dev/", 0o755, 0, 0),
		dir("etc/", 0o755, 0, 0),
		reg("etc/passwd", 0o644, []byte(passwd)),
		reg("etc/group", 0o644, []byte(group)),
		dir("home/", 0o755, 0, 0),
		dir("home/app/", 0o755, 1000, 1000),
		dir("proc/", 0o555, 0, 0),
		dir("root/", 0o700, 0, 0),
		dir("sys/", 0o555, 0, 0),
		dir("tmp/", 0o1777, 0, 0),
		dir("usr/", 0o755, 0, 0),
		dir("usr/bin/", 0o755, 0, 0),
		dir("var/", 0o755, 0, 0),
	)
}

// Paths in the layers image, for tests of the flattened root filesystem.
const (
	// LayersKeptFile survives every layer.
	LayersKeptFile = "/data/keep"
	// LayersDeletedFile is added by the second layer and removed by a
	// ".wh." whiteout in the third.
	LayersDeletedFile = "/data/gone"
	// LayersOpaqueDir is filled by the second layer and made opaque
	// (".wh..wh..opq") by the third, which adds LayersOpaqueNewFile.
	LayersOpaqueDir = "/opq"
	// LayersOpaqueOldFile and LayersOpaqueOldSubdir are hidden by the
	// opaque whiteout.
	LayersOpaqueOldFile   = "/opq/old"
	LayersOpaqueOldSubdir = "/opq/sub"
	// LayersOpaqueNewFile is added next to the opaque whiteout.
	LayersOpaqueNewFile = "/opq/new"
	// LayersTopFile is added by the fourth layer.
	LayersTopFile = "/data/top"
)

// extraLayers are the layers of the layers image on top of the busybox root.
func extraLayers() [][]file {
	return [][]file{
		{
			dir("data/", 0o755, 0, 0),
			reg("data/keep", 0o644, []byte("keep\n")),
			reg("data/gone", 0o644, []byte("gone\n")),
			dir("opq/", 0o755, 0, 0),
			reg("opq/old", 0o644, []byte("old\n")),
			dir("opq/sub/", 0o755, 0, 0),
			reg("opq/sub/deep", 0o644, []byte("deep\n")),
		},
		{
			dir("data/", 0o755, 0, 0),
			reg("data/.wh.gone", 0o644, nil),
			dir("opq/", 0o755, 0, 0),
			reg("opq/.wh..wh..opq", 0o644, nil),
			reg("opq/new", 0o644, []byte("new\n")),
		},
		{
			dir("data/", 0o755, 0, 0),
			reg("data/top", 0o644, []byte("top\n")),
		},
	}
}
