package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/smtp"
)

// queuedOutcome is the queue entry a send made, for --json.
type queuedOutcome struct {
	ID          string    `json:"id"`
	Recipients  []string  `json:"recipients"`
	NextAttempt time.Time `json:"next_attempt"`
	// PossibleDuplicate: the connection broke after the message was sent,
	// so the server may have it already.
	PossibleDuplicate bool `json:"possible_duplicate,omitempty"`
}

// queueMode is the account's queue setting, else the command's default.
func queueMode(acct *account.Account, req *sendRequest) account.QueueMode {
	if req.quitAfter != "" {
		// Debugging a session: nothing is sent, so nothing is queued.
		return account.QueueNever
	}
	if acct.Queue != "" {
		return acct.Queue
	}
	if req.defaultQueue != "" {
		return req.defaultQueue
	}
	return account.QueueNever
}

// queueDir is the account's queue directory, else the default one.
func queueDir(acct *account.Account) (string, error) {
	if acct.QueueDir != "" {
		return acct.QueueDir, nil
	}
	d, err := queue.DefaultDir()
	if err != nil {
		// A configuration problem: there is nowhere to put the queue.
		return "", &account.Error{Kind: account.ErrValue, Key: "queue_dir", Msg: "no default queue directory: " + err.Error(), Err: err}
	}
	return d, nil
}

// openQueue opens the queue directory dir, creating it when create is set.
// Without create, a queue that does not exist yet is nil: it is empty, and
// a command that only reads it must not leave directories behind.
func openQueue(dir string, create bool, o *queue.Options) (*queue.Queue, error) {
	if !create {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	q, err := queue.Open(dir, o)
	if err != nil {
		return nil, &inputError{Path: dir, Err: err}
	}
	return q, nil
}

// spoolMemory is how much of a message is kept in memory before it is
// written to the queue's spool: a small message that is delivered at once
// never touches the disk, and a large one never fills the memory.
const spoolMemory = 1 << 20

// spoolTee copies the message the client reads to the queue while it is
// sent, so that it can be queued when the delivery fails temporarily: the
// input is often a pipe that cannot be read twice.
type spoolTee struct {
	r     io.Reader
	open  func() (*queue.Spool, error)
	buf   bytes.Buffer
	spool *queue.Spool
	err   error // why the message cannot be queued
}

func newSpoolTee(r io.Reader, open func() (*queue.Spool, error)) *spoolTee {
	return &spoolTee{r: r, open: open}
}

func (t *spoolTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.keep(p[:n])
	}
	return n, err
}

// keep never fails: a problem with the queue must not break the delivery
// it shadows. It is reported if the message needs queueing.
func (t *spoolTee) keep(b []byte) {
	switch {
	case t.err != nil:
	case t.spool != nil:
		t.spool.Write(b)
	default:
		t.buf.Write(b)
		if t.buf.Len() > spoolMemory {
			t.spill()
		}
	}
}

// spill moves what is in memory to a spool.
func (t *spoolTee) spill() {
	if t.spool != nil || t.err != nil {
		return
	}
	s, err := t.open()
	if err != nil {
		t.err = err
		t.buf = bytes.Buffer{}
		return
	}
	s.Write(t.buf.Bytes())
	t.buf = bytes.Buffer{}
	t.spool = s
}

// commit reads what the delivery left of the input and queues the whole
// message for env.
func (t *spoolTee) commit(env queue.Envelope, lastErr error) (*queue.Entry, error) {
	t.spill()
	if t.err != nil {
		return nil, t.err
	}
	// Straight from the input: what the delivery read is in the spool.
	if _, err := io.Copy(t.spool, t.r); err != nil {
		t.spool.Abort()
		return nil, err
	}
	return t.spool.Commit(env, lastErr)
}

// discard drops the copy: the message needs no queueing.
func (t *spoolTee) discard() {
	if t.spool != nil {
		t.spool.Abort()
	}
	t.buf = bytes.Buffer{}
}

// queueOnly queues the message without trying to send it (queue = always).
func queueOnly(acct *account.Account, env *smtp.Envelope, body io.Reader) (*outcome, error) {
	out := &outcome{
		Status:    "queued",
		Server:    acct.Address(),
		TimingsMS: map[string]int64{},
		Envelope:  envelopeOutcome{From: env.From.String(), Recipients: []string{}},
	}
	for _, r := range env.Recipients {
		out.Envelope.Recipients = append(out.Envelope.Recipients, r.Address.String())
	}
	out.Recipients = []rcptOutcome{}
	dir, err := queueDir(acct)
	if err != nil {
		return out, err
	}
	q, err := openQueue(dir, true, nil)
	if err != nil {
		return out, err
	}
	e, err := q.Enqueue(queue.NewEnvelope(acct.Name, env), body)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return out, err
		}
		return out, &inputError{Path: dir, Err: err}
	}
	out.Size = e.Size
	out.Queued = &queuedOutcome{ID: e.ID, Recipients: e.RecipientAddresses(), NextAttempt: e.NextAttempt}
	return out, nil
}

// queueLeft decides, after a delivery with queue = auto, what goes to the
// queue: the recipients deferred by a temporary failure (of the connection,
// of the transaction, or of their RCPT). It returns the error left to
// report: nil when every recipient was delivered or queued, the permanent
// refusals otherwise, or err itself when nothing could be queued.
func queueLeft(t *spoolTee, acct *account.Account, env *smtp.Envelope, out *outcome, err error, stderr io.Writer) error {
	res, sendErr := out.result, out.sendErr
	judged := queue.Judge(env, res, sendErr)
	deferred := judged.Indexes(queue.FateDeferred)
	// A transaction that failed as a whole is queued only when trying
	// again may help; recipients refused at RCPT carry their own verdict.
	queueable := sendErr == nil || errors.Is(sendErr, smtp.ErrNoRecipients) || queue.Temporary(sendErr)
	if len(deferred) == 0 || !queueable {
		t.discard()
		return err
	}
	lastErr := sendErr
	if lastErr == nil {
		lastErr = judged.Recipients[deferred[0]].Err
	}
	qenv := queue.NewEnvelope(acct.Name, env).Subset(deferred)
	for j, i := range deferred {
		if ro := judged.Recipients[i]; ro.Err != nil && ro.Err != sendErr {
			// The recipient's own temporary refusal.
			qenv.Recipients[j].LastError = ro.Err.Error()
		}
	}
	e, qerr := t.commit(qenv, lastErr)
	if qerr != nil {
		fmt.Fprintf(stderr, "outbox: warning: the message could not be queued: %s\n", oneLine(qerr.Error()))
		return err
	}
	out.Queued = &queuedOutcome{ID: e.ID, Recipients: e.RecipientAddresses(), NextAttempt: e.NextAttempt, PossibleDuplicate: e.OutcomeUnknown}
	out.Error = errorOutcomeFor(err)
	for _, i := range deferred {
		if i < len(out.Recipients) {
			out.Recipients[i].Queued = true
		}
	}
	who := ""
	if len(deferred) < len(env.Recipients) {
		who = strings.Join(e.RecipientAddresses(), ", ") + " "
	}
	fmt.Fprintf(stderr, "outbox: warning: %squeued as %s for a later try: %s\n", who, e.ID, oneLine(lastErr.Error()))

	// What is not queued was delivered or refused for good.
	var kept []smtp.RcptResult
	delivered := 0
	for i, ro := range judged.Recipients {
		switch ro.Fate {
		case queue.FateDelivered:
			delivered++
			kept = append(kept, res.Recipients[i])
		case queue.FateBounced:
			if res != nil && i < len(res.Recipients) && res.Recipients[i].Err != nil {
				kept = append(kept, res.Recipients[i])
			} else {
				kept = append(kept, smtp.RcptResult{Recipient: env.Recipients[i], Err: ro.Err})
			}
		}
	}
	if delivered == 0 && len(kept) == 0 {
		out.Status = "queued"
	}
	if len(kept) == delivered {
		return nil
	}
	rest := &smtp.Result{Recipients: kept}
	if delivered == 0 {
		return &refusedError{res: rest, err: err}
	}
	return &partialError{res: rest}
}
