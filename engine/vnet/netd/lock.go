package netd

import (
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// errLocked is lockDir's answer when a helper holds the directory.
var errLocked = errors.New("netd: a helper holds the directory's lock")

// lockDir takes dir's helper lock, which a serving helper holds for its
// whole life: one helper per directory, and a free lock means that no
// helper runs there (whatever pid and socket files say).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, err
	}
	return f, nil
}

// holdDir takes dir's helper lock for a helper that starts to serve. A
// probe (helperAlive, in pierd) takes the lock for a moment too, so a busy
// lock is tried again for a while: a helper holds it for good, a probe
// lets go at once.
func holdDir(dir string) (*os.File, error) {
	deadline := time.Now().Add(lockPatience)
	for {
		f, err := lockDir(dir)
		if !errors.Is(err, errLocked) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lockPatience is how long holdDir tries a busy lock.
const lockPatience = 2 * time.Second

// helperAlive says whether a helper holds dir's lock.
func helperAlive(dir string) bool {
	f, err := lockDir(dir)
	if err != nil {
		return errors.Is(err, errLocked)
	}
	f.Close()
	return false
}
