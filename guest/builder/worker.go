package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/exporter"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/solver"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/worker/base"
)

type dockerRegistryHost = docker.RegistryHost

// MobyExporter is the exporter name docker clients use for "into the
// daemon's image store" (buildx's docker driver, --load).
const MobyExporter = "moby"

// worker is BuildKit's base worker with the `moby` exporter, and the
// platform of an image's metadata resolution passed on to the bridge.
type worker struct {
	*base.Worker
}

func (w *worker) Exporter(name string, sm *session.Manager) (exporter.Exporter, error) {
	switch name {
	case MobyExporter:
		e, err := w.Worker.Exporter(client.ExporterImage, sm)
		if err != nil {
			return nil, err
		}
		return mobyExporter{pushingExporter{e}}, nil
	case client.ExporterImage:
		e, err := w.Worker.Exporter(name, sm)
		if err != nil {
			return nil, err
		}
		return pushingExporter{e}, nil
	}
	return w.Worker.Exporter(name, sm)
}

// pushingExporter marks the context of its exports' pushes (withPush).
type pushingExporter struct{ exporter.Exporter }

func (e pushingExporter) Resolve(ctx context.Context, id int, opt map[string]string) (exporter.ExporterInstance, error) {
	inst, err := e.Exporter.Resolve(ctx, id, opt)
	if err != nil {
		return nil, err
	}
	return pushingInstance{inst}, nil
}

type pushingInstance struct{ exporter.ExporterInstance }

func (i pushingInstance) Export(ctx context.Context, src *exporter.Source, inlineCache exptypes.InlineCache, sessionID string) (map[string]string, exporter.DescriptorReference, error) {
	return i.ExporterInstance.Export(withPush(ctx), src, inlineCache, sessionID)
}

func (w *worker) ResolveSourceMetadata(ctx context.Context, op *pb.SourceOp, opt sourceresolver.Opt, sm *session.Manager, jobCtx solver.JobContext) (*sourceresolver.MetaResponse, error) {
	if io := opt.ImageOpt; io != nil && io.Platform != nil {
		ctx = WithPlatform(ctx, platforms.Format(platforms.Normalize(*io.Platform)))
	}
	return w.Worker.ResolveSourceMetadata(ctx, op, opt, sm, jobCtx)
}

// mobyExporter is the image exporter pushing (to the bridge, so to
// pierd): with no name, under a placeholder name of PlaceholderHost, which
// the bridge exports without names.
type mobyExporter struct{ exporter.Exporter }

func (e mobyExporter) Resolve(ctx context.Context, id int, opt map[string]string) (exporter.ExporterInstance, error) {
	opt = maps.Clone(opt)
	if opt == nil {
		opt = map[string]string{}
	}
	opt[string(exptypes.OptKeyPush)] = "true"
	if opt[string(exptypes.OptKeyName)] == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		opt[string(exptypes.OptKeyName)] = PlaceholderHost + "/untagged:" + hex.EncodeToString(b[:])
	}
	return e.Exporter.Resolve(ctx, id, opt)
}
