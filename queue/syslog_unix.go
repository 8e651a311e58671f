//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package queue

import (
	"io"
	"log/syslog"
)

// NewSyslogWriter connects to the local syslog daemon, for a [Logger] in
// the mail facility with tag "outbox".
func NewSyslogWriter() (io.WriteCloser, error) {
	return syslog.New(syslog.LOG_MAIL|syslog.LOG_INFO, "outbox")
}
