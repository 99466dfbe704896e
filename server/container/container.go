// Package container serves the /containers routes of the Docker Engine API:
// create, start, stop, kill, restart, wait, logs, attach, resize, inspect,
// list, remove, rename, update and prune; the archive API (docker cp),
// changes (docker diff) and export; stats, top, pause and unpause; commit
// (POST /commit, docker commit). HTTP stays here; the engine does the
// work through the small Backend interface.
package container

import (
	"context"
	"io"

	"github.com/pier-vm/pier/engine"
	"github.com/pier-vm/pier/server/httputils"
)

// lifecycleBackend changes containers.
type lifecycleBackend interface {
	ContainerCreate(ctx context.Context, req engine.CreateRequest) (engine.CreateResult, error)
	ContainerStart(ctx context.Context, ref string) error
	ContainerStop(ctx context.Context, ref string, opts engine.StopOptions) error
	ContainerRestart(ctx context.Context, ref string, opts engine.StopOptions) error
	ContainerKill(ctx context.Context, ref, signal string) error
	ContainerRemove(ctx context.Context, ref string, opts engine.RemoveOptions) error
	ContainerRename(ref, newName string) error
	ContainerUpdate(ref string, req engine.UpdateRequest) (engine.UpdateResult, error)
	ContainerPrune(ctx context.Context, opts engine.PruneOptions) (engine.PruneResult, error)
}

// stateBackend reads containers.
type stateBackend interface {
	ContainerInspect(ref string) (*engine.Info, error)
	ContainerList(opts engine.ListOptions) ([]engine.Summary, error)
	ContainerWait(ctx context.Context, ref, condition string) (<-chan engine.WaitResult, error)
	// ContainerSize is the container's SizeRw and SizeRootFs (size=1).
	ContainerSize(ref string) (rw, rootFs int64, err error)
}

// streamBackend connects clients to containers' stdio.
type streamBackend interface {
	ContainerLogs(ctx context.Context, ref string, opts engine.LogsOptions, emit func(engine.LogEntry) error) error
	ContainerAttach(ctx context.Context, ref string, opts engine.AttachOptions) error
	ContainerResize(ctx context.Context, ref string, height, width uint) error
}

// filesBackend reads and writes containers' files (docker cp, diff,
// export).
type filesBackend interface {
	ContainerStatPath(ctx context.Context, ref, path string) (engine.PathStat, error)
	ContainerArchivePath(ctx context.Context, ref, path string) (engine.PathStat, io.ReadCloser, error)
	ContainerExtractToDir(ctx context.Context, ref, path string, opts engine.CopyOptions, content io.Reader) error
	ContainerChanges(ctx context.Context, ref string) ([]engine.Change, error)
	ContainerExport(ctx context.Context, ref string) (io.ReadCloser, error)
}

// observeBackend looks at running containers and pauses them (docker
// stats, top, pause, unpause).
type observeBackend interface {
	ContainerStats(ctx context.Context, ref string, opts engine.StatsOptions, emit func(engine.StatsEntry) error) error
	ContainerTop(ctx context.Context, ref, psArgs string) (engine.TopResult, error)
	ContainerPause(ctx context.Context, ref string) error
	ContainerUnpause(ctx context.Context, ref string) error
}

// commitBackend makes images of containers (docker commit).
type commitBackend interface {
	ContainerCommit(ctx context.Context, ref string, opts engine.CommitOptions) (imageID string, err error)
}

// Backend is what the container routes need from the engine.
type Backend interface {
	lifecycleBackend
	stateBackend
	streamBackend
	filesBackend
	observeBackend
	commitBackend
}

// Router serves the container routes.
type Router struct {
	backend Backend
}

// NewRouter returns the container router over b.
func NewRouter(b Backend) *Router { return &Router{backend: b} }

// Routes lists the container routes.
func (r *Router) Routes() []httputils.Route {
	return []httputils.Route{
		{Method: "GET", Path: "/containers/json", Handler: r.getContainersJSON},
		{Method: "GET", Path: "/containers/{name:.*}/json", Handler: r.getContainersByName},
		{Method: "GET", Path: "/containers/{name:.*}/logs", Handler: r.getContainersLogs},
		{Method: "POST", Path: "/containers/create", Handler: r.postContainersCreate},
		{Method: "POST", Path: "/containers/prune", Handler: r.postContainersPrune},
		{Method: "POST", Path: "/containers/{name:.*}/start", Handler: r.postContainersStart},
		{Method: "POST", Path: "/containers/{name:.*}/stop", Handler: r.postContainersStop},
		{Method: "POST", Path: "/containers/{name:.*}/kill", Handler: r.postContainersKill},
		{Method: "POST", Path: "/containers/{name:.*}/restart", Handler: r.postContainersRestart},
		{Method: "POST", Path: "/containers/{name:.*}/wait", Handler: r.postContainersWait},
		{Method: "POST", Path: "/containers/{name:.*}/attach", Handler: r.postContainersAttach},
		{Method: "POST", Path: "/containers/{name:.*}/resize", Handler: r.postContainersResize},
		{Method: "POST", Path: "/containers/{name:.*}/rename", Handler: r.postContainerRename},
		{Method: "POST", Path: "/containers/{name:.*}/update", Handler: r.postContainerUpdate},
		{Method: "HEAD", Path: "/containers/{name:.*}/archive", Handler: r.headContainersArchive},
		{Method: "GET", Path: "/containers/{name:.*}/archive", Handler: r.getContainersArchive},
		{Method: "PUT", Path: "/containers/{name:.*}/archive", Handler: r.putContainersArchive, Upload: true},
		{Method: "GET", Path: "/containers/{name:.*}/export", Handler: r.getContainersExport},
		{Method: "GET", Path: "/containers/{name:.*}/changes", Handler: r.getContainersChanges},
		{Method: "GET", Path: "/containers/{name:.*}/stats", Handler: r.getContainersStats},
		{Method: "GET", Path: "/containers/{name:.*}/top", Handler: r.getContainersTop},
		{Method: "POST", Path: "/containers/{name:.*}/pause", Handler: r.postContainersPause},
		{Method: "POST", Path: "/containers/{name:.*}/unpause", Handler: r.postContainersUnpause},
		{Method: "DELETE", Path: "/containers/{name:.*}", Handler: r.deleteContainers},
		{Method: "POST", Path: "/commit", Handler: r.postCommit},
	}
}
