//go:build linux

package init

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/pier-vm/pier/guest/agent"
	"github.com/pier-vm/pier/guest/proto"
)

// becomeThisMachine takes the host's clock and a fresh seed. A VM restored
// from a template resumes with the template's wall clock (minutes or days
// behind) and the template's random-generator state, identical in every
// clone; a cold-booted VM gains a clock without the RTC's one-second
// granularity.
func becomeThisMachine(spec *proto.ContainerSpec) error {
	id := spec.Identity
	if id == nil {
		return nil
	}
	if id.UnixNano > 0 {
		if err := agent.SetClock(id.UnixNano); err != nil {
			return err
		}
	}
	if len(id.Seed) > 0 {
		if err := addEntropy(id.Seed); err != nil {
			return err
		}
	}
	return nil
}

// addEntropy credits seed to the kernel's pool (RNDADDENTROPY) and forces
// the generator to reseed from it at once (RNDRESEEDCRNG), so that reads
// of /dev/urandom differ from every other clone's from here on.
func addEntropy(seed []byte) error {
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("seed the random generator: %w", err)
	}
	defer f.Close()
	// struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
	info := make([]byte, 8+len(seed))
	binary.NativeEndian.PutUint32(info[0:], uint32(len(seed)*8))
	binary.NativeEndian.PutUint32(info[4:], uint32(len(seed)))
	copy(info[8:], seed)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDADDENTROPY, uintptr(unsafe.Pointer(&info[0]))); errno != 0 {
		return fmt.Errorf("seed the random generator: %w", errno)
	}
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.RNDRESEEDCRNG, 0); errno != 0 {
		return fmt.Errorf("reseed the random generator: %w", errno)
	}
	return nil
}
