package build

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/cyphar/filepath-securejoin"
	"github.com/distribution/reference"
	"github.com/moby/buildkit/client"
	"github.com/moby/go-archive"
	"github.com/opencontainers/go-digest"
	"github.com/tonistiigi/fsutil"

	"github.com/pier-vm/pier/errdefs"
)

// Request is a build of the classic endpoint (POST /build): the context
// arrives as a tar, and the builder's BuildKit solves it with its
// Dockerfile frontend, as dockerd's BuildKit does for a version 2 build.
type Request struct {
	// Context is the build context: a tar, possibly compressed.
	Context io.Reader
	// Dockerfile is the Dockerfile's path in the context ("Dockerfile"
	// when empty).
	Dockerfile string
	// Tags name the image (none: untagged).
	Tags      []string
	Target    string
	BuildArgs map[string]string
	Labels    map[string]string
	// Platform is os/arch[/variant] (empty: the host's).
	Platform string
	NoCache  bool
	// Pull resolves FROM images again instead of using local ones.
	Pull bool
}

// Build runs req; out gets the build's progress as lines of text. It
// returns the new image's ID. Errors found before the build starts are
// classified (invalid parameter: a bad tag, no Dockerfile, a context that
// is not a tar).
func (b *Builder) Build(ctx context.Context, req Request, out func(string)) (string, error) {
	if !b.Available() {
		return "", b.errNoBuilder()
	}
	defer b.use.begin()()
	names := make([]string, 0, len(req.Tags))
	for _, t := range req.Tags {
		named, err := reference.ParseNormalizedNamed(t)
		if err != nil {
			return "", errdefs.InvalidParameterf("invalid reference format: %s", t)
		}
		if _, ok := named.(reference.Digested); ok {
			return "", errdefs.InvalidParameterf("invalid tag %s: a digest is not a tag", t)
		}
		names = append(names, reference.TagNameOnly(named).String())
	}
	if err := os.MkdirAll(b.statePath("contexts"), 0o700); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(b.statePath("contexts"), "ctx-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := archive.Untar(req.Context, dir, &archive.TarOptions{NoLchown: true}); err != nil {
		return "", errdefs.InvalidParameterf("the build context is not a tar archive: %v", err)
	}
	dockerfile := req.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	dfPath, err := securejoin.SecureJoin(dir, dockerfile)
	if err != nil {
		return "", errdefs.InvalidParameterf("Cannot locate specified Dockerfile: %s", dockerfile)
	}
	if st, err := os.Stat(dfPath); err != nil || !st.Mode().IsRegular() {
		return "", errdefs.InvalidParameterf("Cannot locate specified Dockerfile: %s", dockerfile)
	}
	contextFS, err := fsutil.NewFS(dir)
	if err != nil {
		return "", err
	}
	dockerfileFS, err := fsutil.NewFS(filepath.Dir(dfPath))
	if err != nil {
		return "", err
	}

	c, err := b.client(ctx)
	if err != nil {
		return "", err
	}
	statuses := make(chan *client.SolveStatus)
	shown := make(chan struct{})
	go func() {
		defer close(shown)
		showProgress(statuses, out)
	}()
	resp, err := c.Solve(ctx, nil, client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: frontendAttrs(req, filepath.Base(dfPath)),
		LocalMounts:   map[string]fsutil.FS{"context": contextFS, "dockerfile": dockerfileFS},
		Exports:       []client.ExportEntry{{Type: "moby", Attrs: map[string]string{"name": strings.Join(names, ",")}}},
	}, statuses)
	<-shown
	if err != nil {
		return "", err
	}
	id := resp.ExporterResponse["containerimage.config.digest"]
	if _, derr := digest.Parse(id); derr != nil {
		return "", fmt.Errorf("the builder did not say which image it made (%q)", id)
	}
	return id, nil
}

// frontendAttrs are the Dockerfile frontend's options for req.
func frontendAttrs(req Request, filename string) map[string]string {
	attrs := map[string]string{"filename": filename}
	if req.Target != "" {
		attrs["target"] = req.Target
	}
	if req.Platform != "" {
		attrs["platform"] = req.Platform
	}
	if req.NoCache {
		attrs["no-cache"] = ""
	}
	if req.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	for k, v := range req.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range req.Labels {
		attrs["label:"+k] = v
	}
	return attrs
}

// showProgress turns BuildKit's progress into lines: each step when it
// starts (and whether it came from the cache), its output, its error.
func showProgress(statuses <-chan *client.SolveStatus, out func(string)) {
	seen := map[digest.Digest]int{}
	done := map[digest.Digest]bool{}
	for st := range statuses {
		for _, v := range st.Vertexes {
			n, ok := seen[v.Digest]
			if !ok && v.Started != nil {
				n = len(seen) + 1
				seen[v.Digest] = n
				out(fmt.Sprintf("#%d %s\n", n, v.Name))
			}
			if !ok && v.Started == nil {
				continue
			}
			if done[v.Digest] {
				continue
			}
			switch {
			case v.Error != "":
				done[v.Digest] = true
				out(fmt.Sprintf("#%d ERROR: %s\n", n, v.Error))
			case v.Completed != nil && v.Cached:
				done[v.Digest] = true
				out(fmt.Sprintf("#%d CACHED\n", n))
			case v.Completed != nil:
				done[v.Digest] = true
				out(fmt.Sprintf("#%d DONE %.1fs\n", n, v.Completed.Sub(*v.Started).Seconds()))
			}
		}
		for _, l := range st.Logs {
			if len(l.Data) > 0 {
				out(string(l.Data))
			}
		}
	}
}
