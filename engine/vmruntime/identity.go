package vmruntime

import (
	"crypto/rand"
	"time"

	"github.com/pier-vm/pier/guest/proto"
)

// newIdentity is what makes a guest its own machine at start: the host's
// clock and a fresh seed. A VM cloned from a template would otherwise keep
// the template's clock and random-generator state (docs/architecture.md).
func newIdentity() *proto.Identity {
	seed := make([]byte, 32)
	_, _ = rand.Read(seed) // never fails (crypto/rand panics instead)
	return &proto.Identity{UnixNano: time.Now().UnixNano(), Seed: seed}
}
