//go:build windows

package queue

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is where the locked byte lies: Windows locks are mandatory,
// so the lock covers a byte far past any data the file holds, which other
// handles can then still read.
const lockOffset = 1 << 30

func overlapped() *windows.Overlapped { return &windows.Overlapped{OffsetHigh: lockOffset} }

// tryLock takes an exclusive LockFileEx lock on f without waiting. Windows
// releases it when the process ends.
func tryLock(f *os.File) (bool, error) {
	ol := overlapped()
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) || errors.Is(err, windows.ERROR_IO_PENDING) {
		return false, nil
	}
	return err == nil, err
}

// lockWait takes an exclusive LockFileEx lock on f, waiting for it.
func lockWait(f *os.File) error {
	ol := overlapped()
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, ol)
}

func unlock(f *os.File) error {
	ol := overlapped()
	return windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, ol)
}
