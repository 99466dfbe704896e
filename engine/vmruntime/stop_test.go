package vmruntime

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/pier-vm/pier/guest/proto"
)

// stopFakeVM is a vm.Machine whose guest agent (on the other end of a
// pipe) answers the handshake and, unless ignoreShutdown or deaf, powers
// the VM off on a shutdown request.
type stopFakeVM struct {
	ignoreShutdown, deaf bool
	once                 sync.Once
	done                 chan struct{}
	killed               bool
	mu                   sync.Mutex
}

func (v *stopFakeVM) ID() string            { return "fake" }
func (v *stopFakeVM) Pid() int              { return 1 }
func (v *stopFakeVM) Done() <-chan struct{} { return v.done }
func (v *stopFakeVM) Err() error            { return nil }
func (v *stopFakeVM) DialAgent(context.Context) (net.Conn, error) {
	return nil, errors.New("not used")
}
func (v *stopFakeVM) end() { v.once.Do(func() { close(v.done) }) }
func (v *stopFakeVM) Kill() error {
	v.mu.Lock()
	v.killed = !isDone(v.done)
	v.mu.Unlock()
	v.end()
	return nil
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// agent serves the fake guest agent on conn.
func (v *stopFakeVM) agent(conn net.Conn) {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	rwc, err := proto.AcceptSync(conn)
	if err != nil {
		return
	}
	s, err := yamux.Server(rwc, cfg)
	if err != nil {
		return
	}
	for {
		st, err := s.Accept()
		if err != nil {
			return
		}
		go func() {
			defer st.Close()
			var req proto.Request
			if proto.ReadMessage(st, &req) != nil {
				return
			}
			switch req.Op {
			case proto.OpHello:
				proto.WriteMessage(st, proto.Response{Hello: &proto.HelloInfo{Version: proto.Version}})
			case proto.OpShutdown:
				if v.deaf {
					time.Sleep(time.Hour)
				}
				proto.WriteMessage(st, proto.Response{})
				if !v.ignoreShutdown {
					v.end()
				}
			}
		}()
	}
}

// TestStopGuestThroughTheAgent: stopGuest (a maintenance VM's stop, any
// driver) asks the agent to power off and the VM ends by itself, not
// killed; a guest that takes the request but stays up, and an agent that
// never answers, are killed once the bound passed, not later.
func TestStopGuestThroughTheAgent(t *testing.T) {
	cases := []struct {
		name       string
		vm         *stopFakeVM
		wantClean  bool
		wantKilled bool
	}{
		{"powers off", &stopFakeVM{}, true, false},
		{"stays up", &stopFakeVM{ignoreShutdown: true}, false, true},
		{"agent silent", &stopFakeVM{deaf: true}, false, true},
	}
	const bound = 300 * time.Millisecond
	for _, c := range cases {
		c.vm.done = make(chan struct{})
		host, guest := net.Pipe()
		go c.vm.agent(guest)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		client, err := proto.Dial(ctx, host)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		start := time.Now()
		clean, err := stopGuest(client, c.vm, bound)
		took := time.Since(start)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if clean != c.wantClean || c.vm.killed != c.wantKilled {
			t.Errorf("%s: clean %v, killed %v; want %v, %v", c.name, clean, c.vm.killed, c.wantClean, c.wantKilled)
		}
		if took > bound+200*time.Millisecond {
			t.Errorf("%s: took %v, bound %v", c.name, took, bound)
		}
		if !isDone(c.vm.done) {
			t.Errorf("%s: vm not ended", c.name)
		}
	}
}
