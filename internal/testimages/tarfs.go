package testimages

import (
	"archive/tar"
	"bytes"
	"time"
)

// epoch is the fixed time of every file, config and history entry, so that
// digests never change between builds.
var epoch = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// file is one entry of a layer tar.
type file struct {
	name     string // relative, without a leading slash; directories end in "/"
	typeflag byte
	mode     int64
	uid, gid int
	body     []byte
	linkname string
}

func dir(name string, mode int64, uid, gid int) file {
	return file{name: name, typeflag: tar.TypeDir, mode: mode, uid: uid, gid: gid}
}

func reg(name string, mode int64, body []byte) file {
	return file{name: name, typeflag: tar.TypeReg, mode: mode, body: body}
}

func symlink(name, target string) file {
	return file{name: name, typeflag: tar.TypeSymlink, mode: 0o777, linkname: target}
}

// tarOf returns the uncompressed tar of files, in the given order.
func tarOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:     f.name,
			Typeflag: f.typeflag,
			Mode:     f.mode,
			Uid:      f.uid,
			Gid:      f.gid,
			Linkname: f.linkname,
			Size:     int64(len(f.body)),
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
