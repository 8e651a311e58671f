package smtp

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// tracer writes the protocol transcript: one line per protocol line or
// event, with the milliseconds since the session started and the direction
// ("C:" client, "S:" server, "*" an event of the client's own).
type tracer struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (t *tracer) enabled() bool { return t != nil && t.w != nil }

func (t *tracer) printf(dir, format string, args ...any) {
	if !t.enabled() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ms := time.Since(t.start).Milliseconds()
	// Errors writing the transcript never disturb the session.
	fmt.Fprintf(t.w, "%6dms %s %s\n", ms, dir, fmt.Sprintf(format, args...))
}

func (t *tracer) client(line string) { t.printf("C:", "%s", Escape(line)) }
func (t *tracer) server(line string) { t.printf("S:", "%s", Escape(line)) }
func (t *tracer) event(format string, args ...any) {
	t.printf("*", format, args...)
}

// redacted is what the transcript shows for a secret client line.
const redacted = "<redacted>"

// lineTracer shows every line of the message data in the trace, when the
// caller asked for the data in full.
type lineTracer struct {
	t       *tracer
	partial []byte
}

func (lt *lineTracer) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' {
			s := string(lt.partial)
			if n := len(s); n > 0 && s[n-1] == '\r' {
				s = s[:n-1]
			}
			lt.t.client(s)
			lt.partial = lt.partial[:0]
			continue
		}
		if len(lt.partial) < 4096 {
			lt.partial = append(lt.partial, c)
		}
	}
	return len(p), nil
}
