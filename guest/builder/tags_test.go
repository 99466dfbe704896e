package builder

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/pier-vm/pier/guest/proto"
)

// A tag wanted for two platforms (FROM --platform, a build for another
// architecture) gets pierd's image of each: pierd is asked once per
// platform, and each platform's client gets its own image.
func TestBridgeTagHasAnImagePerPlatform(t *testing.T) {
	byArch := map[string]v1.Image{}
	for _, arch := range []string{"amd64", "arm64"} {
		img := must(random.Image(512, 1))
		cfg := must(img.ConfigFile())
		cfg.OS, cfg.Architecture = "linux", arch
		byArch[arch] = loaded(t, must(mutate.ConfigFile(img, cfg)))
	}
	f, h := newFakeHost(t, func(req proto.BuilderRequest) proto.BuilderReply {
		p, err := v1.ParsePlatform(req.Platform)
		if err != nil || byArch[p.Architecture] == nil {
			return proto.BuilderReply{Error: "no image for " + req.Platform}
		}
		if err := tarball.WriteToFile(req.Path, name.MustParseReference("some/name:tag"), byArch[p.Architecture]); err != nil {
			return proto.BuilderReply{Error: err.Error()}
		}
		return proto.BuilderReply{}
	})
	_, _, dial := serveBridge(t, h)
	for range 2 { // the second round comes from the bridge
		for _, arch := range []string{"amd64", "arm64", "amd64"} {
			ctx := WithPlatform(context.Background(), "linux/"+arch)
			got, err := remote.Image(name.MustParseReference("busybox:latest"),
				append(remoteOpt(ctx, dial), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}))...)
			if err != nil {
				t.Fatalf("%s: %v", arch, err)
			}
			if mustDigest(t, got) != mustDigest(t, byArch[arch]) {
				t.Fatalf("%s: served another platform's image", arch)
			}
		}
	}
	if n := len(f.requests(proto.BuilderResolve)); n != 2 {
		t.Fatalf("pierd was asked %d times, want once per platform (2)", n)
	}
}

// A tag pierd's image of which changed (the base was rebuilt or pulled
// again) is resolved again: the bridge asks which image pierd has now
// before it serves what it got earlier.
func TestBridgeTagFollowsPierd(t *testing.T) {
	var current v1.Image
	set := func(size int64) {
		current = loaded(t, must(random.Image(size, 1)))
	}
	set(300)
	f, h := newFakeHost(t, func(req proto.BuilderRequest) proto.BuilderReply {
		switch req.Op {
		case proto.BuilderLookup:
			return proto.BuilderReply{Image: must(current.ConfigName()).String()}
		case proto.BuilderResolve:
			if err := tarball.WriteToFile(req.Path, name.MustParseReference("some/name:tag"), current); err != nil {
				return proto.BuilderReply{Error: err.Error()}
			}
			return proto.BuilderReply{}
		}
		return proto.BuilderReply{Error: "unexpected " + req.Op}
	})
	_, _, dial := serveBridge(t, h)
	get := func() v1.Hash {
		ctx := WithPlatform(context.Background(), "linux/amd64")
		img, err := remote.Image(name.MustParseReference("base:latest"), append(remoteOpt(ctx, dial), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "amd64"}))...)
		if err != nil {
			t.Fatal(err)
		}
		return mustDigest(t, img)
	}
	if get() != mustDigest(t, current) || get() != mustDigest(t, current) {
		t.Fatal("the bridge does not serve pierd's image")
	}
	if n := len(f.requests(proto.BuilderResolve)); n != 1 {
		t.Fatalf("an unchanged image was resolved %d times, want once", n)
	}
	set(400) // rebuilt in pierd
	if get() != mustDigest(t, current) {
		t.Fatal("the bridge serves the image pierd had before")
	}
	if n := len(f.requests(proto.BuilderResolve)); n != 2 {
		t.Fatalf("resolves after the change: %d, want 2", n)
	}
}
