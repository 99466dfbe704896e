package build

import (
	"net"
	"sync"
	"time"
)

// DefaultIdleTimeout is how long the builder VM runs with no build, client
// connection or session before it stops (its memory goes back to the
// host; the cache stays on its disk, and the next build starts it again).
const DefaultIdleTimeout = 10 * time.Minute

// idleCheckEvery is how often an idle builder is looked at.
const idleCheckEvery = 30 * time.Second

// usage counts what uses the builder: client connections (/grpc),
// sessions, and pierd's own calls (classic builds, prunes, disk usage).
// pierd's shared BuildKit client keeps a connection open all the time: it
// is not a use, and it reconnects (starting the VM again) when needed.
type usage struct {
	mu       sync.Mutex
	active   int
	lastUsed time.Time
}

// begin records a use; the returned func ends it (once).
func (u *usage) begin() func() {
	u.mu.Lock()
	u.active++
	u.lastUsed = time.Now()
	u.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			u.active--
			u.lastUsed = time.Now()
			u.mu.Unlock()
		})
	}
}

// idle says whether nothing used the builder for longer than timeout.
func (u *usage) idle(now time.Time, timeout time.Duration) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.active == 0 && now.Sub(u.lastUsed) > timeout
}

// usedConn is a connection that is a use of the builder until it closes.
type usedConn struct {
	net.Conn
	end func()
}

func (c *usedConn) Close() error {
	err := c.Conn.Close()
	c.end()
	return err
}

// watchIdle stops inst once the builder has been idle for the timeout, and
// returns when inst is gone (stopped here or otherwise).
func (b *Builder) watchIdle(inst *instance) {
	if b.cfg.IdleTimeout < 0 {
		return
	}
	t := time.NewTicker(min(idleCheckEvery, b.cfg.IdleTimeout/2+time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-inst.done:
			return
		case now := <-t.C:
			if !b.use.idle(now, b.cfg.IdleTimeout) {
				continue
			}
			b.mu.Lock()
			if b.cur != inst {
				b.mu.Unlock()
				return
			}
			// Checked again under b.mu: a use that began meanwhile
			// (it takes b.mu to reach the VM) keeps it running.
			if !b.use.idle(time.Now(), b.cfg.IdleTimeout) {
				b.mu.Unlock()
				continue
			}
			end := b.detachLocked()
			b.mu.Unlock()
			b.log.Info("stopping the idle builder VM", "idle-for", b.cfg.IdleTimeout)
			end()
			return
		}
	}
}
