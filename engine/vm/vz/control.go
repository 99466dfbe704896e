package vz

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/pier-vm/pier/errdefs"
)

// The control protocol: the client connects to ctl.sock, writes one JSON
// request line and reads one JSON response line; the shim then closes the
// connection. "wait" answers only once the VM has ended, so a client holds
// one such connection open to learn of the end.
const (
	controlProtocol = "pier-vz-shim/1"
	shimInfoVersion = 1
)

// Operations of the control protocol.
const (
	opState = "state" // answer the VM's state at once
	opStop  = "stop"  // power the guest off through its agent (stopVM); answer at once
	opKill  = "kill"  // stop the VM at once; answer once it ended
	opWait  = "wait"  // answer once the VM ended
	// opPause and opResume stop and resume the vCPUs (docker pause); a
	// shim of before them answers "unknown operation".
	opPause  = "pause"
	opResume = "resume"
)

// States a shim reports.
const (
	stateRunning = "running"
	stateStopped = "stopped"
)

type controlRequest struct {
	Op string `json:"op"`
}

type controlResponse struct {
	State string `json:"state"`
	Pid   int    `json:"pid"`
	// Exit says why the VM ended, once State is stopped; empty for a clean
	// guest power-off.
	Exit string `json:"exit,omitempty"`
	// Error says why the request failed.
	Error string `json:"error,omitempty"`
}

// shimInfo is shim.json: how to reach a running shim. The shim writes it
// once the VM runs and its sockets listen, and removes it when it exits.
type shimInfo struct {
	Version  int    `json:"version"`
	Protocol string `json:"protocol"`
	Control  string `json:"control"` // relative to StateDir
	Agent    string `json:"agent"`   // relative to StateDir
	Pid      int    `json:"pid"`
}

func writeShimInfo(dir string, pid int) error {
	data, err := json.Marshal(shimInfo{Version: shimInfoVersion, Protocol: controlProtocol,
		Control: controlSockName, Agent: agentSockName, Pid: pid})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, shimFileName), append(data, '\n'))
}

// readShimInfo loads shim.json and checks that this code speaks its
// protocol.
func readShimInfo(dir string) (shimInfo, error) {
	var info shimInfo
	data, err := os.ReadFile(filepath.Join(dir, shimFileName))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("vz: %s in %s: %w", shimFileName, dir, err)
	}
	if info.Version != shimInfoVersion || info.Protocol != controlProtocol {
		return info, errdefs.Unavailable(fmt.Errorf("vz: shim in %s speaks %q (version %d), want %q (version %d)",
			dir, info.Protocol, info.Version, controlProtocol, shimInfoVersion))
	}
	if filepath.IsAbs(info.Control) || filepath.IsAbs(info.Agent) || info.Pid <= 0 {
		return info, fmt.Errorf("vz: %s in %s is malformed", shimFileName, dir)
	}
	return info, nil
}

// controller is what the control socket drives: the shim's VM.
type controller interface {
	// DialGuest connects to the guest's vsock port (and Done is closed
	// once the VM ended).
	guestDialer
	State() string
	// Kill stops the VM hard; it may return before the VM ended.
	Kill() error
	// Pause and Resume stop and resume the vCPUs.
	Pause() error
	Resume() error
	Err() error
}

// serveControl answers control requests on l until l is closed; stop
// starts the shim's stop of the VM. The returned channel is closed once
// every connection has been answered.
func serveControl(l net.Listener, c controller, pid int, stop func()) <-chan struct{} {
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done := make(chan struct{}, 64)
		active := 0
		for {
			conn, err := l.Accept()
			if err != nil {
				break
			}
			active++
			go func() {
				handleControl(conn, c, pid, stop)
				done <- struct{}{}
			}()
		}
		for ; active > 0; active-- {
			<-done
		}
	}()
	return finished
}

func handleControl(conn net.Conn, c controller, pid int, stop func()) {
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var req controlRequest
	line, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &req)
	}
	resp := controlResponse{Pid: pid}
	if err != nil {
		resp.Error = "bad request: " + err.Error()
	} else {
		_ = conn.SetReadDeadline(time.Time{})
		resp.Error = errString(act(conn, c, req.Op, stop))
	}
	resp.State = c.State()
	select {
	case <-c.Done():
		resp.State = stateStopped
		resp.Exit = errString(c.Err())
	default:
	}
	data, _ := json.Marshal(resp)
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write(append(data, '\n'))
}

// act carries out op; kill and wait return once the VM ended (or the client
// hung up; the hard stop itself is bounded as killVM bounds it).
func act(conn net.Conn, c controller, op string, stop func()) error {
	switch op {
	case opState:
		return nil
	case opStop:
		stop()
		return nil
	case opKill:
		if err := killVM(c, defaultStopTimes.kill); err != nil {
			return err
		}
		return waitOrHangup(conn, c.Done())
	case opWait:
		return waitOrHangup(conn, c.Done())
	case opPause:
		return c.Pause()
	case opResume:
		return c.Resume()
	default:
		return fmt.Errorf("unknown operation %q", op)
	}
}

// waitOrHangup waits for done, or for the client to close its end.
func waitOrHangup(conn net.Conn, done <-chan struct{}) error {
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(gone)
	}()
	select {
	case <-done:
		return nil
	case <-gone:
		return errors.New("client hung up")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// callControl sends op to the control socket at path and returns the
// answer. It gives up when ctx ends.
func callControl(ctx context.Context, path, op string) (controlResponse, error) {
	var resp controlResponse
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return resp, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	data, _ := json.Marshal(controlRequest{Op: op})
	if _, err := conn.Write(append(data, '\n')); err != nil {
		return resp, err
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		if ctx.Err() != nil {
			return resp, ctx.Err()
		}
		return resp, fmt.Errorf("control %s: %w", op, err)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("control %s: bad answer: %w", op, err)
	}
	if resp.Error != "" {
		return resp, fmt.Errorf("control %s: %s", op, resp.Error)
	}
	return resp, nil
}

// exitRecord is exit.json: why the VM ended, written by the shim before it
// closes its sockets, for a daemon that was not listening at the time.
type exitRecord struct {
	Exit string `json:"exit"`
}

func writeExitRecord(dir string, vmErr error) error {
	data, err := json.Marshal(exitRecord{Exit: errString(vmErr)})
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, exitFileName), append(data, '\n'))
}

// readExitRecord returns the VM's end as the shim recorded it: ok is false
// when there is no record, exit is empty for a clean power-off.
func readExitRecord(dir string) (exit string, ok bool) {
	var rec exitRecord
	data, err := os.ReadFile(filepath.Join(dir, exitFileName))
	if err != nil || json.Unmarshal(data, &rec) != nil {
		return "", false
	}
	return rec.Exit, true
}
