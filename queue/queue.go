package queue

import (
	"context"
	crand "crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Errors of the queue's own.
var (
	// ErrNotFound means no entry has the given ID.
	ErrNotFound = errors.New("no such queue entry")
	// ErrBusy means another process is flushing the queue and the caller
	// chose not to wait.
	ErrBusy = errors.New("the queue is being flushed by another process")
	// ErrBadID means a string is not a queue ID.
	ErrBadID = errors.New("not a queue ID")
)

// RetryPolicy says when a deferred entry is tried again: after Initial,
// then twice as long after each attempt up to Max, each delay varied by
// ±25% so that entries queued together spread out; an entry still
// undelivered MaxAge after it was queued is given up on.
type RetryPolicy struct {
	Initial time.Duration
	Max     time.Duration
	MaxAge  time.Duration
}

// DefaultRetry is the policy of a zero [Options.Retry]: 5 minutes, doubling
// to 2 hours, for 5 days.
var DefaultRetry = RetryPolicy{Initial: 5 * time.Minute, Max: 2 * time.Hour, MaxAge: 5 * 24 * time.Hour}

// DefaultGuardWindow is how long accepted messages are remembered by the
// duplicate guard when [Options.GuardWindow] is zero: longer than the
// default maximum age of an entry.
const DefaultGuardWindow = 7 * 24 * time.Hour

// Options tune a [Queue]. The zero value is usable.
type Options struct {
	// Retry fields that are zero take their value from [DefaultRetry].
	Retry RetryPolicy
	// GuardWindow is how long accepted messages are remembered
	// (default [DefaultGuardWindow]).
	GuardWindow time.Duration
	// Log, when set, gets one record per delivery attempt of a flush.
	Log *Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Jitter returns a number in [0, 1) that varies retry delays (default
	// math/rand/v2.Float64).
	Jitter func() float64
}

// Queue is a queue directory. Its methods may be called from several
// goroutines and several processes at once.
type Queue struct {
	dir    string
	retry  RetryPolicy
	guard  time.Duration
	log    *Logger
	now    func() time.Time
	jitter func() float64
}

const (
	tmpDir     = "tmp"
	entriesDir = "entries"
	failedDir  = "failed"
	lockFile   = "lock"
	guardFile  = "delivered.jsonl"
)

// DefaultDir is the queue directory of the current user:
// $XDG_STATE_HOME/outbox/queue, else ~/.local/state/outbox/queue; on
// Windows %LocalAppData%\outbox\queue.
func DefaultDir() (string, error) {
	if runtime.GOOS == "windows" {
		d := os.Getenv("LocalAppData")
		if d == "" {
			return "", errors.New("%LocalAppData% is not set")
		}
		return filepath.Join(d, "outbox", "queue"), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "outbox", "queue"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "outbox", "queue"), nil
}

// Open opens the queue in dir, creating its directories (mode 0700) when
// they are missing. o may be nil.
func Open(dir string, o *Options) (*Queue, error) {
	if o == nil {
		o = &Options{}
	}
	q := &Queue{dir: dir, retry: o.Retry, guard: o.GuardWindow, log: o.Log, now: o.Now, jitter: o.Jitter}
	if q.retry.Initial <= 0 {
		q.retry.Initial = DefaultRetry.Initial
	}
	if q.retry.Max <= 0 {
		q.retry.Max = DefaultRetry.Max
	}
	if q.retry.MaxAge <= 0 {
		q.retry.MaxAge = DefaultRetry.MaxAge
	}
	if q.guard <= 0 {
		q.guard = DefaultGuardWindow
	}
	if q.now == nil {
		q.now = time.Now
	}
	if q.jitter == nil {
		q.jitter = rand.Float64
	}
	for _, d := range []string{tmpDir, entriesDir, failedDir} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	return q, nil
}

// Dir is the queue directory.
func (q *Queue) Dir() string { return q.dir }

// idPattern matches the IDs newID makes: the UTC time of creation, so that
// IDs sort by age, and 40 random bits.
var idPattern = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}-[a-z2-7]{8}$`)

// ValidID reports whether s has the form of a queue ID.
func ValidID(s string) bool { return idPattern.MatchString(s) }

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func (q *Queue) newID() string {
	var b [5]byte
	crand.Read(b[:])
	return q.now().UTC().Format("20060102T150405") + "-" + strings.ToLower(idEncoding.EncodeToString(b[:]))
}

// List returns the queued entries, oldest first.
func (q *Queue) List() ([]*Entry, error) { return q.list(entriesDir, StateQueued) }

// Failed returns the entries given up on, oldest first.
func (q *Queue) Failed() ([]*Entry, error) { return q.list(failedDir, StateFailed) }

func (q *Queue) list(sub string, state State) ([]*Entry, error) {
	des, err := os.ReadDir(filepath.Join(q.dir, sub))
	if err != nil {
		return nil, err
	}
	var es []*Entry
	for _, de := range des {
		if !ValidID(de.Name()) {
			continue
		}
		e, err := readEntry(filepath.Join(q.dir, sub, de.Name()), state)
		if errors.Is(err, fs.ErrNotExist) {
			// Removed, or moved to failed/, since the directory was read.
			continue
		}
		if err != nil {
			return es, err
		}
		es = append(es, e)
	}
	slices.SortStableFunc(es, func(a, b *Entry) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return es, nil
}

// Get returns the entry id, queued or failed.
func (q *Queue) Get(id string) (*Entry, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	for _, s := range []struct {
		sub   string
		state State
	}{{entriesDir, StateQueued}, {failedDir, StateFailed}} {
		e, err := readEntry(filepath.Join(q.dir, s.sub, id), s.state)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return e, err
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

// Message opens the message of the entry id, queued or failed.
func (q *Queue) Message(id string) (io.ReadCloser, error) {
	e, err := q.Get(id)
	if err != nil {
		return nil, err
	}
	return os.Open(filepath.Join(e.dir, messageFile))
}

// lock takes the queue lock. With wait it waits until ctx is done,
// otherwise it returns [ErrBusy] at once when another process holds it.
func (q *Queue) lock(ctx context.Context, wait bool) (release func(), err error) {
	f, err := os.OpenFile(filepath.Join(q.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	delay := 10 * time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		if !wait {
			f.Close()
			return nil, ErrBusy
		}
		// Polling rather than a blocking flock keeps the wait cancellable.
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// Remove deletes the entry id, queued or failed. It waits for a running
// flush to end (or ctx).
func (q *Queue) Remove(ctx context.Context, id string) error {
	release, err := q.lock(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	e, err := q.Get(id)
	if err != nil {
		return err
	}
	return q.remove(e)
}

// remove takes e out of its folder with one rename, so no half-removed
// entry is ever seen there, then deletes it.
func (q *Queue) remove(e *Entry) error {
	trash := filepath.Join(q.dir, tmpDir, e.ID+".rm")
	os.RemoveAll(trash)
	if err := os.Rename(e.dir, trash); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(e.dir)); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// Purge deletes the entries, queued and failed, created more than
// olderThan ago, and returns them. It waits for a running flush to end (or
// ctx).
func (q *Queue) Purge(ctx context.Context, olderThan time.Duration) ([]*Entry, error) {
	release, err := q.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer release()
	cutoff := q.now().Add(-olderThan)
	var purged []*Entry
	for _, list := range []func() ([]*Entry, error){q.List, q.Failed} {
		es, err := list()
		if err != nil {
			return purged, err
		}
		for _, e := range es {
			if !e.Created.Before(cutoff) {
				continue
			}
			if err := q.remove(e); err != nil {
				return purged, err
			}
			purged = append(purged, e)
		}
	}
	return purged, nil
}

// MarkNotified records that a failure notice for the failed entry id was
// sent, so that it is not sent again.
func (q *Queue) MarkNotified(ctx context.Context, id string) error {
	release, err := q.lock(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	e, err := q.Get(id)
	if err != nil {
		return err
	}
	if e.State != StateFailed {
		return fmt.Errorf("queue entry %s has not failed", id)
	}
	e.Notified = true
	return e.save()
}

// backoff is the delay before the next attempt after attempts attempts.
func (q *Queue) backoff(attempts int) time.Duration {
	d := q.retry.Initial
	for i := 1; i < attempts && d < q.retry.Max; i++ {
		d *= 2
	}
	d = min(d, q.retry.Max)
	return time.Duration(float64(d) * (0.75 + 0.5*q.jitter()))
}

// schedule sets e's next attempt after a failed one at now: the backoff,
// but never later than the end of its life, so that it gets a last try.
func (q *Queue) schedule(e *Entry, now time.Time) {
	next := now.Add(q.backoff(e.Attempts))
	if end := e.Created.Add(q.retry.MaxAge); next.After(end) {
		next = end
	}
	e.NextAttempt = next
}

// expired reports whether e is past its maximum age at now.
func (q *Queue) expired(e *Entry, now time.Time) bool {
	return !now.Before(e.Created.Add(q.retry.MaxAge))
}

// fail moves e to failed/ with reason.
func (q *Queue) fail(e *Entry, now time.Time, reason string) error {
	e.FailedAt = now
	e.Reason = reason
	e.State = StateFailed
	if err := e.save(); err != nil {
		return err
	}
	return q.moveFailed(e)
}

func (q *Queue) moveFailed(e *Entry) error {
	dst := filepath.Join(q.dir, failedDir, e.ID)
	if err := os.Rename(e.dir, dst); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(q.dir, failedDir)); err != nil {
		return err
	}
	if err := syncDir(filepath.Join(q.dir, entriesDir)); err != nil {
		return err
	}
	e.dir = dst
	e.State = StateFailed
	return nil
}
