package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

// Dialer opens sessions to the server of an account. The flush engine
// calls it once per account with entries to send, and again after a
// session broke.
type Dialer interface {
	// Dial returns a session ready for transactions: greeted, with TLS
	// and authentication done as the account requires.
	Dial(ctx context.Context, account string) (Session, error)
}

// Session is an open SMTP session on which the flush engine sends its
// messages one after the other. An implementation over [smtp.Client]
// calls [smtp.Client.Send] (with [smtp.PartialContinue]), returns
// [smtp.Client.Err] from Err, and sends QUIT from Close.
type Session interface {
	// Send runs one mail transaction. It reads body to its end before it
	// ends the data, and returns what [smtp.Client.Send] returns.
	Send(ctx context.Context, env *smtp.Envelope, body io.Reader) (*smtp.Result, error)
	// Err is non-nil once the session cannot carry another transaction.
	Err() error
	// Close ends the session.
	Close() error
}

// FlushOptions select what a flush sends.
type FlushOptions struct {
	// IDs, when not empty, are the only entries sent, due or not. An ID
	// that is not queued is an error and nothing is sent.
	IDs []string
	// All sends every queued entry, due or not.
	All bool
	// Wait waits for a flush running in another process to end; without
	// it Flush returns [ErrBusy] at once.
	Wait bool
}

// FlushReport says what a flush did.
type FlushReport struct {
	// Entries has one report per entry tried, in the order sent.
	Entries []EntryReport
	// Failed lists the entries moved to failed/ by this flush, given up on
	// or refused for good, for failure notices ([Queue.Notice]).
	Failed []*Entry
	// Recovered lists the entries an interrupted earlier flush had left
	// after sending their whole message: with Entry.OutcomeUnknown set
	// when nothing tells whether the server took it.
	Recovered []*Entry
}

// EntryReport is one delivery attempt of a flush.
type EntryReport struct {
	ID        string
	Account   string
	MessageID string
	Size      int64
	// PossibleDuplicate is set when an earlier attempt may have delivered
	// the message already (its outcome was unknown, or the duplicate guard
	// remembers this Message-ID accepted for one of the recipients), so
	// that a delivery now may be a duplicate.
	PossibleDuplicate bool
	// Recipients is the fate of each recipient tried.
	Recipients []RecipientOutcome
	// Unknown is set when this attempt's outcome is unknown.
	Unknown bool
	// ServerID is the queue id the server named.
	ServerID string
	// Err is the error of the attempt: the session could not be opened, or
	// the transaction failed; nil when every recipient got a reply.
	Err error
	// Removed is set when the entry is gone: every recipient accepted it.
	Removed bool
	// Failed is set when the entry was moved to failed/.
	Failed bool
	// Entry is the entry after the attempt.
	Entry *Entry
}

// Flush sends the queued entries that are due (or those o selects),
// grouped by account, several on one session, and records the outcome of
// each: accepted recipients leave the entry, temporary refusals stay with
// a new retry time, permanent refusals are recorded in Entry.Refused and
// never retried; an entry with no recipient left is removed, or moved to
// failed/ when some were refused, and an entry past the maximum age is
// moved to failed/.
//
// Flush holds the queue lock throughout, so two flushes never send the
// same message. Entries queued while it runs wait for the next flush.
// o may be nil. The error is about the queue itself; delivery errors are in
// the report.
func (q *Queue) Flush(ctx context.Context, d Dialer, o *FlushOptions) (*FlushReport, error) {
	if o == nil {
		o = &FlushOptions{}
	}
	for _, id := range o.IDs {
		if !ValidID(id) {
			return nil, fmt.Errorf("%w: %q", ErrBadID, id)
		}
	}
	release, err := q.lock(ctx, o.Wait)
	if err != nil {
		return nil, err
	}
	defer release()
	crashPoint("flush:locked")

	rep := &FlushReport{}
	if err := q.recover(rep); err != nil {
		return rep, err
	}
	// The guard is advisory: a failure to prune it does not stop a flush.
	q.pruneGuard()
	todo, err := q.select_(o)
	if err != nil {
		return rep, err
	}
	guard, _ := q.readGuard()

	var accounts []string
	byAccount := map[string][]*Entry{}
	for _, e := range todo {
		if _, ok := byAccount[e.Account]; !ok {
			accounts = append(accounts, e.Account)
		}
		byAccount[e.Account] = append(byAccount[e.Account], e)
	}
	for _, acct := range accounts {
		if err := q.flushAccount(ctx, d, acct, byAccount[acct], guard, rep); err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

// select_ returns the entries a flush sends.
func (q *Queue) select_(o *FlushOptions) ([]*Entry, error) {
	es, err := q.List()
	if err != nil {
		return nil, err
	}
	if len(o.IDs) > 0 {
		var todo []*Entry
		for _, id := range o.IDs {
			i := slices.IndexFunc(es, func(e *Entry) bool { return e.ID == id })
			if i < 0 {
				if _, err := q.Get(id); err == nil {
					return nil, fmt.Errorf("queue entry %s has failed and is not queued", id)
				}
				return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			if !slices.Contains(todo, es[i]) {
				todo = append(todo, es[i])
			}
		}
		return todo, nil
	}
	now := q.now()
	return slices.DeleteFunc(es, func(e *Entry) bool { return !o.All && !e.Due(now) }), nil
}

func (q *Queue) flushAccount(ctx context.Context, d Dialer, acct string, es []*Entry, guard []Acceptance, rep *FlushReport) error {
	var sess Session
	defer func() {
		if sess != nil {
			sess.Close()
		}
	}()
	for i, e := range es {
		if ctx.Err() != nil {
			return nil
		}
		if sess == nil {
			crashPoint("flush:dial")
			var err error
			sess, err = d.Dial(ctx, acct)
			if err != nil {
				sess = nil
				// The server cannot be reached: every entry left for it
				// counts an attempt, none is sent.
				for _, e := range es[i:] {
					if err := q.record(e, sessionFailure(e, err), seenBefore(guard, e), rep); err != nil {
						return err
					}
				}
				return nil
			}
		}
		if err := q.send(ctx, sess, e, guard, rep); err != nil {
			return err
		}
		if sess.Err() != nil {
			sess.Close()
			sess = nil
		}
	}
	return nil
}

// sessionFailure is the outcome for e when no session could be opened.
func sessionFailure(e *Entry, err error) *Outcome {
	o := &Outcome{Err: err}
	for _, r := range e.Recipients {
		o.Recipients = append(o.Recipients, RecipientOutcome{Address: r.Address, Fate: FateDeferred, Err: err})
	}
	return o
}

// send delivers e on sess and records the outcome.
func (q *Queue) send(ctx context.Context, sess Session, e *Entry, guard []Acceptance, rep *FlushReport) error {
	prior := e.OutcomeUnknown || seenBefore(guard, e)
	env, err := e.Envelope.SMTP()
	if err != nil {
		return q.failEntry(e, fmt.Sprintf("the queued envelope is invalid: %v", err), rep)
	}
	f, err := os.Open(filepath.Join(e.dir, messageFile))
	if err != nil {
		return q.failEntry(e, fmt.Sprintf("the queued message cannot be read: %v", err), rep)
	}
	env.Size = e.Size
	body := &markingReader{r: f, mark: func() error {
		// The whole message was read: the client sends the final dot
		// next. From here a crash may leave it delivered.
		e.DataSent = q.now()
		if err := e.save(); err != nil {
			return err
		}
		crashPoint("flush:data-sent")
		return nil
	}}
	res, err := sess.Send(ctx, env, body)
	// Closed before the entry is renamed or removed: Windows cannot move
	// a directory with an open file in it.
	f.Close()
	crashPoint("flush:replied")
	return q.record(e, Judge(env, res, err), prior, rep)
}

// markingReader calls mark when r reaches its end, before it reports it.
type markingReader struct {
	r      io.Reader
	mark   func() error
	marked bool
}

func (m *markingReader) Read(p []byte) (int, error) {
	n, err := m.r.Read(p)
	if err == io.EOF && !m.marked {
		m.marked = true
		if merr := m.mark(); merr != nil {
			return n, fmt.Errorf("recording the attempt in the queue: %w", merr)
		}
	}
	return n, err
}

// failEntry gives up on an entry that cannot be sent at all.
func (q *Queue) failEntry(e *Entry, reason string, rep *FlushReport) error {
	if err := q.fail(e, q.now(), reason); err != nil {
		return err
	}
	rep.Failed = append(rep.Failed, e.clone())
	rep.Entries = append(rep.Entries, EntryReport{
		ID: e.ID, Account: e.Account, MessageID: e.MessageID, Size: e.Size,
		Err: errors.New(reason), Failed: true, Entry: e.clone(),
	})
	return nil
}

// record applies the outcome of an attempt to e and stores it.
func (q *Queue) record(e *Entry, out *Outcome, prior bool, rep *FlushReport) error {
	now := q.now()
	r := EntryReport{
		ID: e.ID, Account: e.Account, MessageID: e.MessageID, Size: e.Size,
		PossibleDuplicate: prior, Recipients: out.Recipients, Unknown: out.Unknown,
		ServerID: out.ServerID, Err: out.Err,
	}
	var delivered []string
	var left []Recipient
	for i, ro := range out.Recipients {
		switch ro.Fate {
		case FateDelivered:
			delivered = append(delivered, ro.Address)
			e.Delivered = append(e.Delivered, Delivered{Address: ro.Address, Time: now, ServerID: out.ServerID})
		case FateBounced:
			e.Refused = append(e.Refused, refusal(ro, now))
		default:
			rc := e.Recipients[i]
			rc.LastError = errText(ro.Err)
			left = append(left, rc)
		}
	}
	if len(delivered) > 0 {
		// Before the entry changes, so that a crash in between is
		// resolved from this record and not by sending again. The guard
		// is advisory: an error here does not undo the delivery.
		q.Remember(Acceptance{Time: now, Entry: e.ID, MessageID: e.MessageID, Account: e.Account, Recipients: delivered, ServerID: out.ServerID})
	}
	crashPoint("flush:remembered")
	e.Recipients = left
	e.Attempts++
	e.LastAttempt = now
	e.DataSent = time.Time{}
	e.OutcomeUnknown = e.OutcomeUnknown || out.Unknown
	e.LastError = attemptError(out)

	result := "delivered"
	var err error
	switch {
	case len(left) == 0 && len(e.Refused) == 0:
		err = q.remove(e)
		r.Removed = true
	case len(left) == 0:
		err = q.fail(e, now, "refused by the server")
		r.Failed = true
		result = "bounced"
		if len(delivered) > 0 {
			result = "partial"
		}
	case q.expired(e, now):
		err = q.fail(e, now, fmt.Sprintf("not delivered after %s", formatAge(q.retry.MaxAge)))
		r.Failed = true
		result = "expired"
	default:
		q.schedule(e, now)
		err = e.save()
		switch {
		case out.Unknown:
			result = "unknown"
		case len(delivered) > 0 || len(out.Indexes(FateBounced)) > 0:
			result = "partial"
		default:
			result = "deferred"
		}
	}
	if err != nil {
		return err
	}
	if r.Failed {
		rep.Failed = append(rep.Failed, e.clone())
	}
	r.Entry = e.clone()
	rep.Entries = append(rep.Entries, r)
	var rcpts []string
	for _, ro := range out.Recipients {
		rcpts = append(rcpts, ro.Address)
	}
	q.log.Log(LogRecord{
		Time: now, Account: e.Account, Entry: e.ID, MessageID: e.MessageID, Size: e.Size,
		Recipients: rcpts, Result: result, ServerID: out.ServerID, Error: errText(out.Err),
		PossibleDuplicate: prior,
	})
	return nil
}

func refusal(ro RecipientOutcome, now time.Time) Refusal {
	r := Refusal{Address: ro.Address, Time: now, Error: errText(ro.Err)}
	var se *smtp.Error
	if errors.As(ro.Err, &se) {
		r.Code, r.Enhanced, r.Text = se.Code, se.Enhanced, se.Message()
	}
	return r
}

// attemptError sums up why an attempt left recipients undelivered.
func attemptError(out *Outcome) string {
	if out.Err != nil {
		return out.Err.Error()
	}
	var parts []string
	for _, ro := range out.Recipients {
		if ro.Err != nil {
			parts = append(parts, ro.Err.Error())
		}
	}
	return strings.Join(parts, "; ")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func formatAge(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", n)
	}
	return d.String()
}

// staleTmp is the age after which a spool left in tmp/ is abandoned: as
// Maildir readers do, 36 hours.
const staleTmp = 36 * time.Hour

// recover repairs what an interrupted process left: abandoned spools and
// removals in tmp/, entries given up on but not yet moved to failed/, and
// entries whose message was sent in full without the outcome recorded.
func (q *Queue) recover(rep *FlushReport) error {
	now := q.now()
	tmp := filepath.Join(q.dir, tmpDir)
	des, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, de := range des {
		p := filepath.Join(tmp, de.Name())
		if strings.HasSuffix(de.Name(), ".rm") {
			os.RemoveAll(p)
			continue
		}
		fi, err := os.Stat(filepath.Join(p, messageFile))
		if err != nil {
			fi, err = de.Info()
		}
		if err == nil && now.Sub(fi.ModTime()) > staleTmp {
			os.RemoveAll(p)
		}
	}

	es, err := q.List()
	if err != nil {
		return err
	}
	var guard []Acceptance
	for _, e := range es {
		if !e.FailedAt.IsZero() {
			if err := q.moveFailed(e); err != nil {
				return err
			}
			continue
		}
		if e.DataSent.IsZero() {
			continue
		}
		if guard == nil {
			guard, _ = q.readGuard()
		}
		if err := q.resolve(e, guard, rep); err != nil {
			return err
		}
	}
	return nil
}

// resolve settles an entry a flush left after sending its whole message:
// the guard records which recipients accepted it, if the reply came; if
// none did, the outcome is unknown.
func (q *Queue) resolve(e *Entry, guard []Acceptance, rep *FlushReport) error {
	accepted := map[string]Acceptance{}
	for _, a := range guard {
		if a.Entry != e.ID || a.Time.Before(e.DataSent) {
			continue
		}
		for _, r := range a.Recipients {
			accepted[r] = a
		}
	}
	var left []Recipient
	for _, r := range e.Recipients {
		if a, ok := accepted[r.Address]; ok {
			e.Delivered = append(e.Delivered, Delivered{Address: r.Address, Time: a.Time, ServerID: a.ServerID})
			continue
		}
		left = append(left, r)
	}
	e.Attempts++
	e.LastAttempt = e.DataSent
	e.DataSent = time.Time{}
	if len(accepted) == 0 {
		e.OutcomeUnknown = true
		e.LastError = "the attempt was interrupted after the message was sent; the outcome is unknown"
	} else {
		e.LastError = "the attempt was interrupted after the server's reply"
	}
	e.Recipients = left
	rep.Recovered = append(rep.Recovered, e.clone())
	switch {
	case len(left) == 0 && len(e.Refused) == 0:
		return q.remove(e)
	case len(left) == 0:
		if err := q.fail(e, q.now(), "refused by the server"); err != nil {
			return err
		}
		rep.Failed = append(rep.Failed, e.clone())
		return nil
	}
	return e.save()
}
