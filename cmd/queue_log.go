package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/smtp"
)

// deliveryLogs writes the delivery log of each account: one line per
// attempt, direct or from the queue, to its log_file and, with syslog =
// true, to the system log.
type deliveryLogs struct {
	stderr io.Writer
	// resolve finds the account of a queued message, for the records of a
	// flush; nil logs nothing for them.
	resolve func(name string) (*account.Account, error)
	loggers map[string]*queue.Logger
	closers []io.Closer
}

func newDeliveryLogs(stderr io.Writer) *deliveryLogs {
	return &deliveryLogs{stderr: stderr, loggers: map[string]*queue.Logger{}}
}

// queueLogger is the Logger for queue.Options: the queue writes one record
// per attempt of a flush, and each goes to the log of its entry's account.
func (l *deliveryLogs) queueLogger() *queue.Logger {
	return queue.NewLogger(l, queue.JSONLines)
}

// Write takes one JSON line from the queue's Logger.
func (l *deliveryLogs) Write(p []byte) (int, error) {
	var r queue.LogRecord
	if l.resolve == nil || json.Unmarshal(p, &r) != nil {
		return len(p), nil
	}
	if a, err := l.resolve(r.Account); err == nil {
		l.log(a, r)
	}
	return len(p), nil
}

// log writes r to the logs of a.
func (l *deliveryLogs) log(a *account.Account, r queue.LogRecord) {
	if a.LogFile != "" {
		if lg := l.logger("file:"+a.LogFile, func() (io.WriteCloser, error) {
			if err := os.MkdirAll(filepath.Dir(a.LogFile), 0o700); err != nil {
				return nil, err
			}
			return queue.OpenLog(a.LogFile)
		}); lg != nil {
			if err := lg.Log(r); err != nil {
				fmt.Fprintf(l.stderr, "outbox: warning: log file %s: %s\n", a.LogFile, oneLine(err.Error()))
			}
		}
	}
	if a.Syslog {
		if lg := l.logger("syslog", queue.NewSyslogWriter); lg != nil {
			lg.Log(r)
		}
	}
}

// logger opens a log once; one that cannot be opened is reported once.
func (l *deliveryLogs) logger(key string, open func() (io.WriteCloser, error)) *queue.Logger {
	if lg, ok := l.loggers[key]; ok {
		return lg
	}
	w, err := open()
	if err != nil {
		fmt.Fprintf(l.stderr, "outbox: warning: the delivery log %s cannot be opened: %s\n", strings.TrimPrefix(key, "file:"), oneLine(err.Error()))
		l.loggers[key] = nil
		return nil
	}
	l.closers = append(l.closers, w)
	lg := queue.NewLogger(w, queue.Logfmt)
	l.loggers[key] = lg
	return lg
}

func (l *deliveryLogs) Close() {
	for _, c := range l.closers {
		c.Close()
	}
	l.closers = nil
}

// sendRecord is the log record of a direct send.
func sendRecord(acct *account.Account, env *smtp.Envelope, out *outcome, messageID string) queue.LogRecord {
	r := queue.LogRecord{
		Time:      time.Now(),
		Account:   acct.Name,
		MessageID: messageID,
		Size:      out.Size,
		ServerID:  out.QueueID,
	}
	for _, rc := range env.Recipients {
		r.Recipients = append(r.Recipients, rc.Address.String())
	}
	judged := queue.Judge(env, out.result, out.sendErr)
	delivered, deferred, bounced := judged.Count(queue.FateDelivered), judged.Count(queue.FateDeferred), judged.Count(queue.FateBounced)
	switch {
	case delivered == len(env.Recipients):
		r.Result = "delivered"
	case delivered > 0 || deferred > 0 && bounced > 0:
		r.Result = "partial"
	case judged.Unknown:
		r.Result = "unknown"
	case deferred > 0:
		r.Result = "deferred"
	default:
		r.Result = "bounced"
	}
	if out.sendErr != nil {
		r.Error = out.sendErr.Error()
	} else {
		var errs []string
		for _, ro := range judged.Recipients {
			if ro.Err != nil {
				errs = append(errs, ro.Address+": "+ro.Err.Error())
			}
		}
		for i, e := range errs {
			if i > 0 {
				r.Error += "; "
			}
			r.Error += e
		}
	}
	return r
}
