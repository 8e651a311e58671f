package queue

import (
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LogFormat is the line format of a [Logger].
type LogFormat int

const (
	// JSONLines writes one JSON object a line.
	JSONLines LogFormat = iota
	// Logfmt writes key=value pairs, values quoted when needed.
	Logfmt
)

// LogRecord is one delivery attempt.
type LogRecord struct {
	Time    time.Time `json:"time"`
	Account string    `json:"account,omitempty"`
	// Entry is the queue ID, empty for a direct send.
	Entry      string   `json:"entry,omitempty"`
	MessageID  string   `json:"message_id,omitempty"`
	Size       int64    `json:"size"`
	Recipients []string `json:"recipients"`
	// Result is "delivered", "partial" (some recipients left or refused),
	// "deferred", "bounced", "unknown" (the outcome is unknown) or
	// "expired" (given up on after the maximum age).
	Result string `json:"result"`
	// ServerID is the queue id the server named in its reply.
	ServerID string `json:"server_id,omitempty"`
	Error    string `json:"error,omitempty"`
	// PossibleDuplicate says an earlier attempt may have delivered the
	// message already.
	PossibleDuplicate bool `json:"possible_duplicate,omitempty"`
}

// Logger writes the delivery log: one line per [LogRecord]. It is safe
// for concurrent use; each record is a single Write, so several processes
// may append to one file opened with O_APPEND ([OpenLog]).
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	format LogFormat
}

// NewLogger writes records to w in format.
func NewLogger(w io.Writer, format LogFormat) *Logger {
	return &Logger{w: w, format: format}
}

// OpenLog opens (creating, mode 0600) the log file name for appending.
// Close the file when done.
func OpenLog(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
}

// Log writes r.
func (l *Logger) Log(r LogRecord) error {
	if l == nil {
		return nil
	}
	if r.Recipients == nil {
		r.Recipients = []string{}
	}
	var line []byte
	if l.format == Logfmt {
		line = []byte(r.logfmt())
	} else {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		line = append(b, '\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.w.Write(line)
	return err
}

func (r LogRecord) logfmt() string {
	var b strings.Builder
	kv := func(k, v string, always bool) {
		if v == "" && !always {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(logfmtValue(v))
	}
	kv("time", r.Time.UTC().Format(time.RFC3339), true)
	kv("account", r.Account, false)
	kv("entry", r.Entry, false)
	kv("message_id", r.MessageID, false)
	kv("size", strconv.FormatInt(r.Size, 10), true)
	kv("recipients", strings.Join(r.Recipients, ","), true)
	kv("result", r.Result, true)
	kv("server_id", r.ServerID, false)
	kv("error", r.Error, false)
	if r.PossibleDuplicate {
		kv("possible_duplicate", "true", true)
	}
	b.WriteByte('\n')
	return b.String()
}

// logfmtValue quotes v when it is empty or holds a space, a quote, an
// equals sign or a control byte; control bytes are escaped so a value can
// never start a new line.
func logfmtValue(v string) string {
	if v == "" {
		return `""`
	}
	if strings.IndexFunc(v, func(r rune) bool { return r <= ' ' || r == '"' || r == '=' || r == 0x7f }) < 0 {
		return v
	}
	return strconv.Quote(v)
}
