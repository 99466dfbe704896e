//go:build linux

package agent

import (
	"sync"

	"github.com/pier-vm/pier/guest/proto"
)

// The main process's output and exit status do not go straight to the host
// stream that started it: they go through a journal, from which one host
// follower at a time is fed. When the host goes away (pierd restarts, is
// upgraded or killed), the process keeps running and its output stays in
// the journal; the next host reattaches (OpReattach) with how much of each
// stream it has stored and gets the rest, then the exit status. The guest
// powers off only after a host acknowledged that status.
//
// Memory is bounded: what was sent is kept up to journalKeep bytes (a host
// that died may not have stored the last bytes it read); what was not sent
// yet may grow to journalMaxUnsent bytes, then the output readers stop
// reading and the process blocks on its next write, as behind a full pipe.
const (
	journalKeep      = 1 << 20
	journalMaxUnsent = 16 << 20
)

// chunk is one read of one output stream.
type chunk struct {
	frame proto.FrameType
	// off is the stream offset of data[0].
	off  int64
	data []byte
}

// journal is the main process's output and exit status.
type journal struct {
	mu   sync.Mutex
	cond *sync.Cond
	// chunks[0] has sequence number first; cursor is the sequence number
	// of the next chunk the current follower sends.
	chunks []chunk
	first  int
	cursor int
	// end is each stream's total length so far.
	end map[proto.FrameType]int64
	// sentBytes and unsentBytes are the retained bytes before and after
	// cursor.
	sentBytes, unsentBytes int64
	exit                   *proto.ExitStatus
	acked                  bool
	ackedCh                chan struct{}
	// gen counts followers; a follower stops once another one started.
	gen int
	// keep and maxUnsent are journalKeep and journalMaxUnsent (tests
	// shrink them).
	keep, maxUnsent int64
}

func newJournal() *journal {
	j := &journal{end: map[proto.FrameType]int64{}, ackedCh: make(chan struct{}), keep: journalKeep, maxUnsent: journalMaxUnsent}
	j.cond = sync.NewCond(&j.mu)
	return j
}

// write appends one read of stream frame; it blocks while too much is
// unsent.
func (j *journal) write(frame proto.FrameType, b []byte) error {
	data := append([]byte(nil), b...)
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.unsentBytes >= j.maxUnsent {
		j.cond.Wait()
	}
	j.chunks = append(j.chunks, chunk{frame: frame, off: j.end[frame], data: data})
	j.end[frame] += int64(len(data))
	j.unsentBytes += int64(len(data))
	j.cond.Broadcast()
	return nil
}

// finish records the exit status, after the last output.
func (j *journal) finish(status proto.ExitStatus) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.exit = &status
	j.cond.Broadcast()
}

// ack records that a host took the exit status.
func (j *journal) ack() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.exit != nil && !j.acked {
		j.acked = true
		close(j.ackedCh)
	}
}

// acknowledged is closed once a host took the exit status.
func (j *journal) acknowledged() <-chan struct{} { return j.ackedCh }

// follower is one host's feed; start with journal.follow.
type follower struct {
	j    *journal
	gen  int
	from map[proto.FrameType]int64
}

// follow starts a new follower that resumes each stream at the offsets
// the host has (a fresh start passes none) and stops the previous one. It
// returns the offsets it actually resumes at: larger than asked when the
// bytes in between are no longer kept.
func (j *journal) follow(from map[proto.FrameType]int64) (*follower, map[proto.FrameType]int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.gen++
	f := &follower{j: j, gen: j.gen, from: map[proto.FrameType]int64{}}
	for k, v := range from {
		f.from[k] = v
	}
	// Rewind over what was sent but is still kept, then skip what the
	// host already has.
	j.unsentBytes += j.sentBytes
	j.sentBytes = 0
	j.cursor = j.first
	resumed := map[proto.FrameType]int64{}
	for _, t := range []proto.FrameType{proto.FrameStdout, proto.FrameStderr} {
		at := f.from[t]
		if at > j.end[t] {
			at = j.end[t]
		}
		if oldest, ok := j.oldestLocked(t); ok && at < oldest {
			at = oldest
		}
		f.from[t] = at
		resumed[t] = at
	}
	j.cond.Broadcast()
	return f, resumed
}

// oldestLocked is the first kept offset of stream t (false: none kept).
func (j *journal) oldestLocked(t proto.FrameType) (int64, bool) {
	for _, c := range j.chunks {
		if c.frame == t {
			return c.off, true
		}
	}
	return 0, false
}

// stop ends f's feed (its host went away).
func (f *follower) stop() {
	f.j.mu.Lock()
	defer f.j.mu.Unlock()
	if f.j.gen == f.gen {
		f.j.gen++
		f.j.cond.Broadcast()
	}
}

// run sends the journal to send until the exit status was sent (true),
// send failed, or another follower took over (false).
func (f *follower) run(send func(proto.FrameType, []byte) error) bool {
	j := f.j
	for {
		j.mu.Lock()
		for j.gen == f.gen && j.cursor-j.first >= len(j.chunks) && j.exit == nil {
			j.cond.Wait()
		}
		if j.gen != f.gen {
			j.mu.Unlock()
			return false
		}
		if j.cursor-j.first >= len(j.chunks) {
			status := *j.exit
			j.mu.Unlock()
			return sendExit(send, status) == nil
		}
		c := j.chunks[j.cursor-j.first]
		j.mu.Unlock()

		data := c.data
		if skip := f.from[c.frame] - c.off; skip > 0 {
			if skip >= int64(len(data)) {
				data = nil
			} else {
				data = data[skip:]
			}
		}
		if len(data) > 0 {
			if err := send(c.frame, data); err != nil {
				return false
			}
		}
		j.mu.Lock()
		if j.gen == f.gen {
			j.advanceLocked(int64(len(c.data)))
		}
		j.mu.Unlock()
	}
}

// advanceLocked moves the cursor past one chunk of n bytes and drops the
// oldest sent chunks beyond journalKeep.
func (j *journal) advanceLocked(n int64) {
	j.cursor++
	j.unsentBytes -= n
	j.sentBytes += n
	for j.sentBytes > j.keep && j.first < j.cursor {
		j.sentBytes -= int64(len(j.chunks[0].data))
		j.chunks[0] = chunk{}
		j.chunks = j.chunks[1:]
		j.first++
	}
	j.cond.Broadcast()
}
