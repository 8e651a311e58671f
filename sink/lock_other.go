//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package sink

import "os"

// lockFile does nothing where flock is missing; [Mbox] still serialises
// its own appends.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
