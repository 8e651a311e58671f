package queue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Acceptance is a record of the duplicate guard: a message a server
// accepted, for some recipients.
type Acceptance struct {
	Time time.Time `json:"time"`
	// Entry is the queue entry the message was sent from, or empty for a
	// message sent directly.
	Entry      string   `json:"entry,omitempty"`
	MessageID  string   `json:"message_id,omitempty"`
	Account    string   `json:"account,omitempty"`
	Recipients []string `json:"recipients"`
	// ServerID is the queue id the server named in its reply.
	ServerID string `json:"server_id,omitempty"`
}

// Remember adds a to the duplicate guard (delivered.jsonl), fsynced. The
// flush engine records every acceptance itself; a sender that delivers a
// message directly may record it too, so that a later flush of the same
// message for the same recipient is reported as a possible duplicate.
// A zero Time is set to now.
func (q *Queue) Remember(a Acceptance) error {
	if a.Time.IsZero() {
		a.Time = q.now()
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	f, err := q.openGuard()
	if err != nil {
		return err
	}
	defer f.Close()
	defer unlock(f)
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	return f.Sync()
}

// Recall returns the remembered acceptances of messageID, oldest first.
func (q *Queue) Recall(messageID string) ([]Acceptance, error) {
	if messageID == "" {
		return nil, nil
	}
	all, err := q.readGuard()
	var as []Acceptance
	for _, a := range all {
		if a.MessageID == messageID {
			as = append(as, a)
		}
	}
	return as, err
}

// openGuard opens delivered.jsonl for appending, locked. Pruning replaces
// the file, so after the lock is taken the open file must still be the
// one at the path; if not, it is opened again.
func (q *Queue) openGuard() (*os.File, error) {
	name := filepath.Join(q.dir, guardFile)
	for {
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, err
		}
		if err := lockWait(f); err != nil {
			f.Close()
			return nil, err
		}
		fi, err1 := f.Stat()
		pi, err2 := os.Stat(name)
		if err1 == nil && err2 == nil && os.SameFile(fi, pi) {
			return f, nil
		}
		unlock(f)
		f.Close()
	}
}

func (q *Queue) readGuard() ([]Acceptance, error) {
	b, err := os.ReadFile(filepath.Join(q.dir, guardFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseGuard(b), nil
}

// parseGuard reads the records, skipping a line a crash cut short.
func parseGuard(b []byte) []Acceptance {
	var as []Acceptance
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a Acceptance
		if json.Unmarshal(sc.Bytes(), &a) == nil {
			as = append(as, a)
		}
	}
	return as
}

// pruneGuard drops the records older than the guard window.
func (q *Queue) pruneGuard() error {
	f, err := q.openGuard()
	if err != nil {
		return err
	}
	defer f.Close()
	defer unlock(f)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return err
	}
	all := parseGuard(b)
	cutoff := q.now().Add(-q.guard)
	kept := slices.DeleteFunc(slices.Clone(all), func(a Acceptance) bool { return a.Time.Before(cutoff) })
	if len(kept) == len(all) && bytes.Count(b, []byte("\n")) == len(all) {
		return nil
	}
	var out bytes.Buffer
	for _, a := range kept {
		line, err := json.Marshal(a)
		if err != nil {
			return err
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	// Replaced while locked: an appender waiting for the lock notices the
	// new file and opens it.
	return replaceFile(f.Name(), out.Bytes())
}

// seenBefore reports whether the guard holds an acceptance of e's message
// by one of e's recipients.
func seenBefore(all []Acceptance, e *Entry) bool {
	if e.MessageID == "" {
		return false
	}
	for _, a := range all {
		if a.MessageID != e.MessageID {
			continue
		}
		for _, r := range e.Recipients {
			if slices.Contains(a.Recipients, r.Address) {
				return true
			}
		}
	}
	return false
}
