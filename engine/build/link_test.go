package build

import (
	"bufio"
	"encoding/json"
	"testing"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

func TestLinkReadsRequestLinesInPieces(t *testing.T) {
	l := newLink(New(Config{}))
	defer l.close()
	replies := bufio.NewReader(l.stdin)
	// A request split over writes, two in one write, a blank line.
	for _, chunk := range []string{`{"op":"rea`, "dy\"}\n\n{\"id\":\"7\",\"op\":\"frobnicate\"}\n", `{"id":"8","op":"export"`, "}\n"} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-l.ready:
	case <-time.After(time.Second):
		t.Fatal("the ready line did not make the link ready")
	}
	got := map[string]proto.BuilderReply{}
	for range 2 {
		line, err := replies.ReadBytes('\n')
		if err != nil {
			t.Fatal(err)
		}
		var r proto.BuilderReply
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("reply %q: %v", line, err)
		}
		got[r.ID] = r
	}
	if got["7"].Error != "unknown request frobnicate" {
		t.Fatalf("reply to an unknown request: %+v", got["7"])
	}
	// An export before the builder's files are there fails, with a reply.
	if got["8"].Error != errBuilderGone.Error() {
		t.Fatalf("reply to an export without files: %+v", got["8"])
	}
}
