package build

import (
	"context"
	"net"
	"os"
	"time"

	"github.com/moby/buildkit/client"
)

// CacheRecord is one record of the build cache (docker system df -v,
// docker buildx du).
type CacheRecord struct {
	ID          string
	Parents     []string
	Type        string
	Description string
	InUse       bool
	Shared      bool
	Size        int64
	CreatedAt   time.Time
	LastUsedAt  *time.Time
	UsageCount  int
}

// PruneOptions say which cache a prune removes, as docker builder prune
// asks: All takes records in use by no build but kept as shared too; the
// Keep fields keep what is newer than KeepDuration and up to the given
// bytes; Filters are BuildKit's (key==value).
type PruneOptions struct {
	All           bool
	KeepDuration  time.Duration
	ReservedSpace int64
	MaxUsedSpace  int64
	MinFreeSpace  int64
	Filters       []string
}

// PruneReport is what a prune removed.
type PruneReport struct {
	Deleted   []string
	Reclaimed int64
}

// cacheDiskName is the builder VM's writable disk in the builder's
// directory: BuildKit's state and cache.
const cacheDiskName = "rw.ext4"

// hasCache says whether a builder ever ran here (its writable disk, which
// holds the cache, exists).
func (b *Builder) hasCache() bool {
	_, err := os.Stat(b.statePath(cacheDiskName))
	return err == nil
}

// isRunning says whether the builder VM runs now.
func (b *Builder) isRunning() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur != nil && !b.cur.gone()
}

// client is pierd's own BuildKit client (sessions, prunes, disk usage,
// classic builds): one gRPC connection, made on first use and again when
// the builder VM changed, instead of a connection (an exec in the VM) per
// call.
func (b *Builder) client(ctx context.Context) (*client.Client, error) {
	b.mu.Lock()
	c := b.ctl
	b.mu.Unlock()
	if c != nil {
		return c, nil
	}
	// Made without b.mu: the client may dial at once, and dialing takes it.
	c, err := client.New(context.WithoutCancel(ctx), "", client.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return b.dial(ctx)
	}))
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctl != nil {
		c.Close()
		return b.ctl, nil
	}
	b.ctl = c
	return c, nil
}

// CacheUsage lists the build cache. It does not start the builder VM for
// that: with no builder running the list is empty (a `docker system df`
// should not boot a VM).
func (b *Builder) CacheUsage(ctx context.Context) ([]CacheRecord, error) {
	if !b.Available() || !b.isRunning() {
		return nil, nil
	}
	defer b.use.begin()()
	c, err := b.client(ctx)
	if err != nil {
		return nil, err
	}
	usage, err := c.DiskUsage(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]CacheRecord, 0, len(usage))
	for _, u := range usage {
		out = append(out, CacheRecord{
			ID: u.ID, Parents: u.Parents, Type: string(u.RecordType), Description: u.Description,
			InUse: u.InUse, Shared: u.Shared, Size: u.Size, CreatedAt: u.CreatedAt,
			LastUsedAt: u.LastUsedAt, UsageCount: u.UsageCount,
		})
	}
	return out, nil
}

// Prune removes build cache. It starts the builder VM when there is a
// cache on its disk and it does not run (a prune is asked for on
// purpose); with no cache at all it removes nothing.
func (b *Builder) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	if !b.Available() || (!b.isRunning() && !b.hasCache()) {
		return PruneReport{}, nil
	}
	defer b.use.begin()()
	c, err := b.client(ctx)
	if err != nil {
		return PruneReport{}, err
	}
	popts := []client.PruneOption{client.WithKeepOpt(opts.KeepDuration, opts.ReservedSpace, opts.MaxUsedSpace, opts.MinFreeSpace)}
	if opts.All {
		popts = append(popts, client.PruneAll)
	}
	if len(opts.Filters) > 0 {
		popts = append(popts, client.WithFilter(opts.Filters))
	}
	ch := make(chan client.UsageInfo)
	var report PruneReport
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range ch {
			report.Deleted = append(report.Deleted, u.ID)
			report.Reclaimed += u.Size
		}
	}()
	err = c.Prune(ctx, ch, popts...)
	close(ch)
	<-done
	return report, err
}
