//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package queue

import (
	"os"
	"sync"
)

// Without flock, locks exclude only flushes of the same process: one
// mutex per lock file path.
var (
	localMu    sync.Mutex
	localLocks = map[string]*sync.Mutex{}
)

func localLock(f *os.File) *sync.Mutex {
	localMu.Lock()
	defer localMu.Unlock()
	m := localLocks[f.Name()]
	if m == nil {
		m = new(sync.Mutex)
		localLocks[f.Name()] = m
	}
	return m
}

func tryLock(f *os.File) (bool, error) { return localLock(f).TryLock(), nil }

func lockWait(f *os.File) error {
	localLock(f).Lock()
	return nil
}

func unlock(f *os.File) error {
	localLock(f).Unlock()
	return nil
}
