package proto

import (
	"context"
	"fmt"
)

// OpReattach connects a new host to the container's main process after
// the host that started it went away (a restarted daemon): the guest kept
// the process running and its output in a journal. The stream then carries
// what OpStart's stream carries: the output the host does not have yet
// (from Request.Offsets on), the exit status, and the host's resize and
// signal frames. The guest answers with the offsets it resumes at
// (Response.Offsets), larger than asked when it no longer kept the bytes in
// between, and the main process's pid. Stdin is attached again with
// OpStdin.
const OpReattach = "reattach"

// ExitRecordPrefix starts the serial console line on which the guest
// writes the main process's exit status (JSON ExitStatus) when it ended:
// a host that was away and finds the VM gone reads it from the console
// log.
const ExitRecordPrefix = "pier-exit-status: "

// OutputOffsets are byte counts of the main process's output streams
// (with a TTY everything is Stdout).
type OutputOffsets struct {
	Stdout int64 `json:"stdout"`
	Stderr int64 `json:"stderr"`
}

// Reattach rejoins the running main process: its output from have on goes
// to pio, and pio.Stdin, when set, is attached as the process's stdin
// (the process must have been started with OpenStdin). It returns the
// process and where its output resumed.
func (c *Client) Reattach(ctx context.Context, have OutputOffsets, pio ProcessIO, openStdin bool) (*Process, OutputOffsets, error) {
	var resp Response
	stream, err := c.request(ctx, Request{Op: OpReattach, Offsets: &have}, &resp)
	if err != nil {
		return nil, OutputOffsets{}, err
	}
	at := have
	if resp.Offsets != nil {
		at = *resp.Offsets
	}
	p := &Process{client: c, stream: stream, pid: resp.Pid, done: make(chan struct{}), main: true}
	go p.readFrames(pio)
	if pio.Stdin != nil && openStdin {
		if err := p.attachStdin(ctx, pio.Stdin); err != nil {
			stream.Close()
			return nil, OutputOffsets{}, fmt.Errorf("attach stdin: %w", err)
		}
	}
	return p, at, nil
}
