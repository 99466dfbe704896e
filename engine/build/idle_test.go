package build

import (
	"testing"
	"time"
)

func TestUsageIsIdleOnlyWithoutUsesForTheTimeout(t *testing.T) {
	var u usage
	if !u.idle(time.Now(), time.Minute) {
		t.Fatal("a builder never used is not idle")
	}
	end := u.begin()
	if u.idle(time.Now().Add(time.Hour), time.Minute) {
		t.Fatal("idle while a use is under way")
	}
	end()
	end() // a second end changes nothing
	if u.active != 0 {
		t.Fatalf("active uses after the end: %d", u.active)
	}
	if u.idle(time.Now(), time.Minute) {
		t.Fatal("idle right after a use")
	}
	if !u.idle(time.Now().Add(2*time.Minute), time.Minute) {
		t.Fatal("not idle a while after the last use")
	}
}
