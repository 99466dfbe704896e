//go:build linux

package agent

import (
	"encoding/json"
	"errors"
	"net"
	"sync"

	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/guest/proto"
)

// mainProcess is the container's main process: it outlives the host
// connection that started it (journal.go).
type mainProcess struct {
	p       *process
	pid     int
	journal *journal
}

// serveMain starts the container's main process and feeds its output and
// exit status to stream, then to whichever host reattaches; the VM powers
// off once a host acknowledged the exit status.
func (a *Agent) serveMain(stream net.Conn, spec proto.ProcessSpec) {
	p, err := a.start(spec)
	if err != nil {
		proto.WriteMessage(stream, startErrorResponse(err))
		stream.Close()
		return
	}
	oomBefore := oomKills()
	pid := p.cmd.Process.Pid
	m := &mainProcess{p: p, pid: pid, journal: newJournal()}
	a.mu.Lock()
	a.main = m
	if p.stdin != nil {
		a.stdins[pid] = p
	}
	a.mu.Unlock()
	f, _ := m.journal.follow(nil)
	if err := proto.WriteMessage(stream, proto.Response{Pid: pid}); err != nil {
		// No host to tell: the process runs for the next one.
		f.stop()
		stream.Close()
	} else {
		go a.feed(stream, m, f)
	}
	outputDone := p.copyOutput(m.journal.write)

	status := p.wait(oomBefore, true)
	waitTimeout(outputDone, outputGrace)
	p.closeOutput()
	if p.stdin != nil {
		a.takeStdin(pid)
		if p.stdin != p.tty {
			p.stdin.Close()
		}
	}
	if a.hooks.MainExited != nil {
		a.hooks.MainExited()
	}
	if a.hooks.RecordExit != nil {
		b, _ := json.Marshal(status)
		a.hooks.RecordExit(b)
	}
	m.journal.finish(status)
	<-m.journal.acknowledged()
	if a.hooks.PowerOff != nil {
		a.hooks.PowerOff()
	}
}

// feed sends the journal to one host's stream and applies the host's
// control frames, until the host goes away, another host takes over, or
// the host acknowledged the exit status.
func (a *Agent) feed(stream net.Conn, m *mainProcess, f *follower) {
	var writeMu sync.Mutex
	send := func(t proto.FrameType, b []byte) error {
		writeMu.Lock()
		defer writeMu.Unlock()
		return proto.WriteFrame(stream, t, b)
	}
	controlDone := make(chan struct{})
	go func() {
		defer close(controlDone)
		a.readControl(stream, m.p, true, m.journal.ack)
		f.stop() // the host went away (or closed after its acknowledgement)
	}()
	if f.run(send) {
		// The exit status went out: wait for the acknowledgement, or for
		// the host to go (the next host gets the status again).
		select {
		case <-m.journal.acknowledged():
		case <-controlDone:
		}
	}
	stream.Close()
	<-controlDone
}

// serveReattach connects a new host to the running main process.
func (a *Agent) serveReattach(session *yamux.Session, stream net.Conn, have *proto.OutputOffsets) {
	a.mu.Lock()
	m := a.main
	a.mu.Unlock()
	if m == nil {
		fail(stream, errors.New("no main process to reattach to"))
		return
	}
	from := map[proto.FrameType]int64{}
	if have != nil {
		from[proto.FrameStdout], from[proto.FrameStderr] = have.Stdout, have.Stderr
	}
	f, at := m.journal.follow(from)
	a.setHostSession(session)
	resp := proto.Response{Pid: m.pid, Offsets: &proto.OutputOffsets{Stdout: at[proto.FrameStdout], Stderr: at[proto.FrameStderr]}}
	if err := proto.WriteMessage(stream, resp); err != nil {
		f.stop()
		stream.Close()
		return
	}
	a.feed(stream, m, f)
}

// isMain says whether pid is the container's main process.
func (a *Agent) isMain(pid int) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.main != nil && a.main.pid == pid
}

// setHostSession makes session the one forwarded sockets' connections go
// over.
func (a *Agent) setHostSession(session *yamux.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.session = session
}

// hostSession is the session of the host that started or last
// reattached to the main process.
func (a *Agent) hostSession() *yamux.Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session
}
