package queue

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"github.com/outbox-smtp/outbox/message"
	"github.com/outbox-smtp/outbox/smtp"
)

// crashHook, when set by a test, is called at named points of enqueue and
// flush so that the test can kill the process there.
var crashHook func(point string)

func crashPoint(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}

// Spool is a message being written to the queue's tmp/ folder, not yet
// queued: [Spool.Commit] queues it, [Spool.Abort] discards it. It lets a
// sender copy a message it reads from a pipe to the queue while it sends
// it (with [io.TeeReader]), and queue it only if the delivery fails
// temporarily.
//
// Write never fails, so that a full disk cannot break the delivery it
// shadows: the first error is kept and returned by [Spool.Err] and
// [Spool.Commit].
type Spool struct {
	q    *Queue
	id   string
	dir  string
	f    *os.File
	size int64
	err  error
	done bool
}

// NewSpool starts a message in tmp/.
func (q *Queue) NewSpool() (*Spool, error) {
	id := q.newID()
	dir := filepath.Join(q.dir, tmpDir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, messageFile), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Spool{q: q, id: id, dir: dir, f: f}, nil
}

// Write appends p to the message. It always reports success; see [Spool].
func (s *Spool) Write(p []byte) (int, error) {
	if s.err == nil && !s.done {
		n, err := s.f.Write(p)
		s.size += int64(n)
		if err != nil {
			s.err = err
		}
	}
	return len(p), nil
}

// Err returns the first error writing the message, if any.
func (s *Spool) Err() error { return s.err }

// Size is the number of octets written so far.
func (s *Spool) Size() int64 { return s.size }

// ID is the ID the entry will have once committed.
func (s *Spool) ID() string { return s.id }

// Abort discards the message. It may be called after Commit, and then does
// nothing.
func (s *Spool) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	s.f.Close()
	return os.RemoveAll(s.dir)
}

// Commit queues the message for env. It reads nothing more: after a
// delivery that stopped reading the input early, copy what is left of it
// into the spool first.
//
// lastErr is the error of a delivery attempt made before the message was
// queued, or nil when none was made: with an error, the entry counts one
// attempt and is due after the first retry delay, and an error wrapping
// [smtp.ErrOutcomeUnknown] marks it as a possible duplicate; without one it
// is due at once.
//
// The entry is durable when Commit returns: see the package documentation
// for the order of writes. On error the spool is discarded.
func (s *Spool) Commit(env Envelope, lastErr error) (*Entry, error) {
	if s.done {
		return nil, errors.New("queue: spool already committed or aborted")
	}
	e, err := s.commit(env, lastErr)
	if err != nil {
		s.Abort()
		return nil, err
	}
	return e, nil
}

func (s *Spool) commit(env Envelope, lastErr error) (*Entry, error) {
	if s.err != nil {
		return nil, fmt.Errorf("writing the message to the queue: %w", s.err)
	}
	if len(env.Recipients) == 0 {
		return nil, fmt.Errorf("%w: no recipients to queue", smtp.ErrNoRecipients)
	}
	if _, err := env.SMTP(); err != nil {
		return nil, err
	}
	if err := s.f.Sync(); err != nil {
		return nil, err
	}
	if err := s.f.Close(); err != nil {
		return nil, err
	}
	crashPoint("enqueue:message-written")
	q := s.q
	now := q.now()
	e := &Entry{
		ID:          s.id,
		State:       StateQueued,
		Envelope:    env,
		Size:        s.size,
		Created:     now,
		NextAttempt: now,
		dir:         filepath.Join(q.dir, entriesDir, s.id),
	}
	e.MessageID, e.Subject = headerInfo(filepath.Join(s.dir, messageFile))
	if lastErr != nil {
		e.Attempts = 1
		e.LastAttempt = now
		e.LastError = lastErr.Error()
		e.OutcomeUnknown = errors.Is(lastErr, smtp.ErrOutcomeUnknown)
		q.schedule(e, now)
	}
	b, err := e.encode()
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(s.dir, envelopeFile), b); err != nil {
		return nil, err
	}
	crashPoint("enqueue:envelope-written")
	if err := syncDir(s.dir); err != nil {
		return nil, err
	}
	// The commit point: the complete entry appears in entries/ at once.
	if err := os.Rename(s.dir, e.dir); err != nil {
		return nil, err
	}
	s.done = true
	crashPoint("enqueue:renamed")
	if err := syncDir(filepath.Join(q.dir, entriesDir)); err != nil {
		return nil, err
	}
	if err := syncDir(filepath.Join(q.dir, tmpDir)); err != nil {
		return nil, err
	}
	return e, nil
}

// Enqueue queues the message read from r for env, as [Queue.NewSpool],
// copying r and [Spool.Commit] with no earlier attempt.
func (q *Queue) Enqueue(env Envelope, r io.Reader) (*Entry, error) {
	s, err := q.NewSpool()
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(s.f, r); err != nil {
		s.Abort()
		return nil, err
	}
	st, err := s.f.Stat()
	if err != nil {
		s.Abort()
		return nil, err
	}
	s.size = st.Size()
	return s.Commit(env, nil)
}

// headerInfo reads the Message-ID and Subject of the message in name, or
// empty strings when it has none or cannot be read.
func headerInfo(name string) (messageID, subject string) {
	f, err := os.Open(name)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	h, err := message.ReadHeader(bufio.NewReader(f))
	if err != nil {
		return "", ""
	}
	subject = h.Get("Subject")
	if d, err := new(mime.WordDecoder).DecodeHeader(subject); err == nil {
		subject = d
	}
	return strings.TrimSpace(h.Get("Message-ID")), subject
}
