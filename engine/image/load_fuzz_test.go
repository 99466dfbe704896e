package image

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pier-vm/pier/errdefs"
)

// tarOf is a tar archive of the given files, in order.
func tarOf(files ...string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for i := 0; i+1 < len(files); i += 2 {
		tw.WriteHeader(&tar.Header{Name: files[i], Mode: 0o644, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	return b.Bytes()
}

// FuzzLoad feeds arbitrary archives to Load (POST /images/load, docker
// load): nothing panics, every refusal is an invalid-parameter error (a
// 400), no temporary file is left in the store, and every reference a
// load reports resolves afterwards.
func FuzzLoad(f *testing.F) {
	img, err := random.Image(64, 1)
	if err != nil {
		f.Fatal(err)
	}
	tag, _ := name.NewTag("fuzz/img:v1")
	var valid bytes.Buffer
	if err := tarball.Write(tag, img, &valid); err != nil {
		f.Fatal(err)
	}
	f.Add(valid.Bytes())
	f.Add(valid.Bytes()[:len(valid.Bytes())/2])
	f.Add([]byte("not a tar"))
	f.Add(tarOf("manifest.json", `[{"Config":"c.json","RepoTags":["a:b"],"Layers":["l.tar"]}]`, "c.json", `{}`))
	f.Add(tarOf("manifest.json", `[{"Config":"../../etc/passwd","RepoTags":["UPPER"],"Layers":[]}]`))
	f.Add(tarOf("manifest.json", `[{"Config":"c.json","Layers":["missing"]},{"Config":"c.json"}]`, "c.json", `{"architecture":"s390x","os":"plan9"}`))
	f.Add(tarOf("manifest.json", `{}`))
	f.Add(tarOf("manifest.json", `[]`))
	f.Add(tarOf("index.json", `{"schemaVersion":2,"manifests":[{"digest":"sha256:00"}]}`, "oci-layout", `{"imageLayoutVersion":"1.0.0"}`))
	s, err := New(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, archive []byte) {
		type result struct {
			loaded []string
			err    error
		}
		done := make(chan result, 1)
		go func() {
			loaded, err := s.Load(context.Background(), bytes.NewReader(archive), nil)
			done <- result{loaded, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Load of a %d-byte archive did not return within 5s", len(archive))
		}
		loaded, err := r.loaded, r.err
		if err != nil && !errdefs.IsInvalidParameter(err) {
			t.Fatalf("Load: %v (%T) is not an invalid-parameter error", err, err)
		}
		for _, ref := range loaded {
			if _, err := s.Resolve(ref, nil); err != nil {
				t.Fatalf("Load reported %q, which does not resolve: %v", ref, err)
			}
		}
		if _, temps := storeFiles(t, s.root); len(temps) != 0 {
			t.Fatalf("Load left temporary files: %v", temps)
		}
	})
}
