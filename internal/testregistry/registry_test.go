package testregistry

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/pier-vm/pier/internal/testimages"
)

func parse(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPushAndPullBack(t *testing.T) {
	set := testimages.Require(t)
	r := Start(t)
	if err := r.Push(set); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Host, "127.0.0.1:") {
		t.Errorf("Host %q", r.Host)
	}
	for _, e := range set.Entries {
		want, err := e.Digest()
		if err != nil {
			t.Fatal(err)
		}
		ref := parse(t, r.Ref(e.Name, e.Tag))
		if e.Index != nil {
			idx, err := remote.Index(ref)
			if err != nil {
				t.Fatalf("%s: %v", ref, err)
			}
			got, _ := idx.Digest()
			if got != want {
				t.Errorf("%s: digest %s, want %s", ref, got, want)
			}
			im, err := idx.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range im.Manifests {
				child, err := idx.Image(d.Digest)
				if err != nil {
					t.Fatal(err)
				}
				if err := pullAll(child.Layers); err != nil {
					t.Errorf("%s child %s: %v", ref, d.Digest, err)
				}
			}
			continue
		}
		img, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		got, _ := img.Digest()
		if got != want {
			t.Errorf("%s: digest %s, want %s", ref, got, want)
		}
		if err := pullAll(img.Layers); err != nil {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// pullImage fetches the manifest, config and every layer of ref.
func pullImage(t *testing.T, ref string) error {
	img, err := remote.Image(parse(t, ref))
	if err != nil {
		return err
	}
	if _, err := img.ConfigFile(); err != nil {
		return err
	}
	return pullAll(img.Layers)
}

func TestBlobFaults(t *testing.T) {
	set := testimages.Require(t)
	for _, tc := range []struct {
		name   string
		inject func(r *Registry, name string)
		want   string // in the pull error
	}{
		{"corrupt", (*Registry).CorruptBlobs, "checksum"},
		{"truncate", (*Registry).TruncateBlobs, "EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Start(t)
			if err := r.Push(set); err != nil {
				t.Fatal(err)
			}
			tc.inject(r, testimages.BusyboxAMD64)

			err := pullImage(t, r.Ref(testimages.BusyboxAMD64, testimages.Latest))
			if err == nil {
				t.Fatal("pull from the broken repository succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("pull error %q does not mention %q", err, tc.want)
			}
			// Other repositories stay intact.
			if err := pullImage(t, r.Ref(testimages.BusyboxARM64, testimages.Latest)); err != nil {
				t.Errorf("intact repository: %v", err)
			}
		})
	}
}

func TestDownAddrRefuses(t *testing.T) {
	addr := DownAddr(t)
	if _, err := net.Dial("tcp", addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial %s: %v, want connection refused", addr, err)
	}
	_, err := remote.Image(parse(t, addr+"/pier-test/busybox:latest"))
	if err == nil {
		t.Fatal("pull from a down registry succeeded")
	}
}

func TestBlobRepo(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/pier-test/busybox/blobs/sha256:abc": "pier-test/busybox",
		"/v2/a/b/c/blobs/sha256:abc":             "a/b/c",
		"/v2/pier-test/busybox/manifests/latest": "",
		"/v2/pier-test/busybox/blobs/uploads/x":  "",
		"/v2/blobs/sha256:abc":                   "",
		"/other":                                 "",
	} {
		got, ok := blobRepo(path)
		if got != want || ok != (want != "") {
			t.Errorf("blobRepo(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
}

// pullAll reads every layer's compressed stream to the end, which is where
// go-containerregistry verifies the size and digest.
func pullAll(layers func() ([]v1.Layer, error)) error {
	ls, err := layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func TestBasicAuthAndSearch(t *testing.T) {
	set := testimages.Require(t)
	r := Start(t, WithBasicAuth("alice", "s3cret"), WithSearch())
	if err := r.Push(set); err != nil {
		t.Fatalf("the registry's own pushes carry its credentials: %v", err)
	}
	ref := parse(t, r.Ref(testimages.App, testimages.Latest))
	if _, err := remote.Get(ref); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("anonymous get: %v", err)
	}
	if _, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "nope"})); err == nil {
		t.Fatal("a wrong password was let in")
	}
	if _, err := remote.Get(ref, remote.WithAuth(&authn.Basic{Username: "alice", Password: "s3cret"})); err != nil {
		t.Fatalf("right credentials: %v", err)
	}
	resp, err := http.Get("http://" + r.Host + "/v1/search?q=busybox-a&n=10")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		NumResults int `json:"num_results"`
		Results    []struct{ Name string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if body.NumResults != 2 || len(body.Results) != 2 || body.Results[0].Name != Namespace+"/busybox-amd64" {
		t.Fatalf("search: %+v", body)
	}
}
