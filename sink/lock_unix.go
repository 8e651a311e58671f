//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package sink

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f, waiting for other writers such as
// a mail reader that locks the mbox the same way.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
