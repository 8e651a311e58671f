//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package queue

import (
	"errors"
	"io"
)

// NewSyslogWriter reports that this system has no syslog.
func NewSyslogWriter() (io.WriteCloser, error) {
	return nil, errors.New("syslog is not available on this system")
}
