package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/smtp"
)

// accountSource resolves the account a queued message names, as the
// configuration file and the environment define it when the flush runs:
// flags given to the send that queued it do not apply.
type accountSource struct {
	configFile string // -C/--config
	stderr     io.Writer
	cache      map[string]resolvedAccount
}

type resolvedAccount struct {
	acct *account.Account
	err  error
}

func newAccountSource(configFile string, stderr io.Writer) *accountSource {
	return &accountSource{configFile: configFile, stderr: stderr, cache: map[string]resolvedAccount{}}
}

func (s *accountSource) get(name string) (*account.Account, error) {
	if r, ok := s.cache[name]; ok {
		return r.acct, r.err
	}
	opts, err := layerOptions(account.Layer{ConfigFile: s.configFile, Account: name}, s.stderr)
	var a *account.Account
	if err == nil {
		a, err = account.Resolve(opts)
	}
	s.cache[name] = resolvedAccount{a, err}
	return a, err
}

// accountLabel names an account in messages.
func accountLabel(name string) string {
	if name == "" {
		return "the account without a name (from the environment or [defaults])"
	}
	return "account " + name
}

// queueDialer opens the sessions of a flush with the same policy as a
// send: TLS as the account requires, then AUTH.
type queueDialer struct {
	src       *accountSource
	stderr    io.Writer
	trace     io.Writer
	traceData bool
	warned    map[string]bool
}

func (d *queueDialer) Dial(ctx context.Context, name string) (queue.Session, error) {
	a, err := d.src.get(name)
	if err == nil {
		var c *smtp.Client
		c, err = openSession(ctx, &delivery{acct: a, trace: d.trace, traceData: d.traceData}, &outcome{}, func(string) {})
		if err == nil {
			return &clientSession{c: c}, nil
		}
	}
	// A server that cannot be reached is what the queue is for; a
	// configuration, TLS or authentication problem needs the user, and
	// would otherwise only show in the log.
	if !queue.Temporary(err) && !d.warned[name] {
		if d.warned == nil {
			d.warned = map[string]bool{}
		}
		d.warned[name] = true
		fmt.Fprintf(d.stderr, "outbox: warning: %s: %s\n", accountLabel(name), oneLine(err.Error()))
		if h := hintFor(err); h != "" {
			fmt.Fprintf(d.stderr, "outbox: hint: %s\n", oneLine(h))
		}
	}
	return nil, err
}

// clientSession carries several queued messages on one connection.
type clientSession struct{ c *smtp.Client }

func (s *clientSession) Send(ctx context.Context, env *smtp.Envelope, body io.Reader) (*smtp.Result, error) {
	return s.c.Send(env, body, &smtp.SendOptions{Partial: smtp.PartialContinue})
}

func (s *clientSession) Err() error   { return s.c.Err() }
func (s *clientSession) Close() error { return s.c.Quit() }

// flushQueue runs a flush of q and then sends the failure notices due. A
// flush already running elsewhere is [queue.ErrBusy] unless fo.Wait.
func flushQueue(ctx context.Context, q *queue.Queue, d *queueDialer, fo *queue.FlushOptions, stderr io.Writer) (*queue.FlushReport, error) {
	rep, err := q.Flush(ctx, d, fo)
	if err != nil {
		return rep, err
	}
	for _, e := range rep.Failed {
		fmt.Fprintf(stderr, "outbox: warning: queue entry %s given up on: %s\n", e.ID, oneLine(failureText(e)))
	}
	notifyFailures(ctx, q, d, stderr)
	return rep, nil
}

// failureText says why e failed, with the recipients concerned.
func failureText(e *queue.Entry) string {
	var parts []string
	for _, r := range e.Refused {
		parts = append(parts, r.Address+": "+r.Error)
	}
	if len(e.Recipients) > 0 {
		s := ""
		for i, r := range e.Recipients {
			if i > 0 {
				s += ", "
			}
			s += r.Address
		}
		if e.LastError != "" {
			s += ": " + e.LastError
		}
		parts = append(parts, s)
	}
	out := e.Reason
	for _, p := range parts {
		out += "; " + p
	}
	return out
}

// notifyFailures mails a failure notice to the sender of each entry given
// up on whose account sets notify_failures, once: an entry is marked when
// its notice was accepted, and one that could not be sent is tried again
// by the next flush.
func notifyFailures(ctx context.Context, q *queue.Queue, d *queueDialer, stderr io.Writer) {
	failed, err := q.Failed()
	if err != nil {
		fmt.Fprintf(stderr, "outbox: warning: reading the failed entries of the queue: %s\n", oneLine(err.Error()))
		return
	}
	sessions := map[string]queue.Session{}
	defer func() {
		for _, s := range sessions {
			s.Close()
		}
	}()
	for _, e := range failed {
		if e.Notified {
			continue
		}
		a, err := d.src.get(e.Account)
		if err != nil || !a.NotifyFailures {
			continue
		}
		n, err := q.Notice(e, nil)
		if errors.Is(err, queue.ErrNoSender) {
			continue
		}
		if err == nil {
			err = sendNotice(ctx, d, sessions, n)
		}
		if err == nil {
			err = q.MarkNotified(ctx, e.ID)
		}
		if err != nil {
			fmt.Fprintf(stderr, "outbox: warning: the failure notice for queue entry %s was not sent: %s\n", e.ID, oneLine(err.Error()))
		}
	}
}

func sendNotice(ctx context.Context, d *queueDialer, sessions map[string]queue.Session, n *queue.Notice) error {
	env, err := n.Envelope.SMTP()
	if err != nil {
		return err
	}
	env.Size = int64(len(n.Message))
	acct := n.Envelope.Account
	s := sessions[acct]
	if s == nil {
		if s, err = d.Dial(ctx, acct); err != nil {
			return err
		}
		sessions[acct] = s
	}
	res, err := s.Send(ctx, env, bytes.NewReader(n.Message))
	if s.Err() != nil {
		s.Close()
		delete(sessions, acct)
	}
	if err != nil {
		return err
	}
	if res.Accepted() < len(res.Recipients) {
		return &partialError{res: res}
	}
	return nil
}

// flushAfterSend sends the queued messages of acct that are due, after a
// message went through its server: that server is reachable now. Entries
// of other accounts wait for 'outbox queue flush', as their servers may
// not be. It reports nothing but entries given up on; a flush already
// running is left to do the work.
func flushAfterSend(ctx context.Context, acct *account.Account, configFile string, stderr io.Writer) {
	if !acct.FlushAfterSend {
		return
	}
	dir, err := queueDir(acct)
	if err != nil {
		return
	}
	logs := newDeliveryLogs(stderr)
	defer logs.Close()
	src := newAccountSource(configFile, stderr)
	logs.resolve = src.get
	q, err := openQueue(dir, false, &queue.Options{Log: logs.queueLogger()})
	if err != nil || q == nil {
		return
	}
	entries, err := q.List()
	if err != nil {
		return
	}
	var ids []string
	for _, e := range entries {
		if e.Account == acct.Name && e.Due(time.Now()) {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	// The queued messages go with the account as the file and the
	// environment define it; when flags sent this message elsewhere
	// (-S/--server), they stay queued.
	if a, err := src.get(acct.Name); err != nil || a.Address() != acct.Address() {
		return
	}
	_, err = flushQueue(ctx, q, &queueDialer{src: src, stderr: stderr}, &queue.FlushOptions{IDs: ids}, stderr)
	if err != nil && !errors.Is(err, queue.ErrBusy) && !errors.Is(err, queue.ErrNotFound) {
		fmt.Fprintf(stderr, "outbox: warning: flushing the queue: %s\n", oneLine(err.Error()))
	}
}
