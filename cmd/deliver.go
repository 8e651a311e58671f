package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/auth"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
)

// defaultConnectTimeout bounds the TCP connection (and, for implicit TLS,
// the handshake) when the account sets none.
const defaultConnectTimeout = 30 * time.Second

// quitAfter values stop a session early, for debugging (like swaks).
var quitAfterStages = []string{"connect", "greeting", "ehlo", "tls", "auth", "mail", "rcpt"}

// delivery is one submission, decided: the account to use, the envelope and
// the message. Nothing below this point looks at flags.
type delivery struct {
	acct      *account.Account
	env       *smtp.Envelope
	body      io.Reader
	send      smtp.SendOptions
	trace     io.Writer // the transcript, or nil
	traceData bool
	quitAfter string
}

// outcome is what happened, for the human report and for --json.
type outcome struct {
	Status     string           `json:"status"` // sent, partial, queued, failed, stopped
	Server     string           `json:"server"`
	TLS        *tlsOutcome      `json:"tls,omitempty"`
	Auth       string           `json:"auth,omitempty"`
	Envelope   envelopeOutcome  `json:"envelope"`
	Recipients []rcptOutcome    `json:"recipients"`
	QueueID    string           `json:"queue_id,omitempty"`
	Size       int64            `json:"size"`
	Error      *errorOutcome    `json:"error,omitempty"`
	TimingsMS  map[string]int64 `json:"timings_ms"`
	// Queued is the queue entry made for the recipients left, if any.
	Queued *queuedOutcome `json:"queued,omitempty"`

	// result and sendErr are what the transaction returned (sendErr is
	// the error of an earlier stage when there was none), for the queue.
	result  *smtp.Result
	sendErr error
}

type tlsOutcome struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
}

type envelopeOutcome struct {
	From       string   `json:"from"`
	Recipients []string `json:"recipients"`
}

type rcptOutcome struct {
	Address  string `json:"address"`
	Accepted bool   `json:"accepted"`
	// Queued says the recipient was refused temporarily and is kept in
	// the queue for a later try.
	Queued   bool   `json:"queued,omitempty"`
	Code     int    `json:"code,omitempty"`
	Enhanced string `json:"enhanced,omitempty"`
	Message  string `json:"message,omitempty"`
}

type errorOutcome struct {
	Stage     string `json:"stage,omitempty"`
	Code      int    `json:"code,omitempty"`
	Enhanced  string `json:"enhanced,omitempty"`
	Message   string `json:"message"`
	Temporary bool   `json:"temporary"`
}

// deliver runs one SMTP session for d. The outcome is filled as far as the
// session got, also when an error is returned.
func deliver(ctx context.Context, d *delivery) (*outcome, error) {
	out := &outcome{
		Status:    "failed",
		Server:    d.acct.Address(),
		TimingsMS: map[string]int64{},
		Envelope:  envelopeOutcome{From: d.env.From.String(), Recipients: []string{}},
	}
	for _, r := range d.env.Recipients {
		out.Envelope.Recipients = append(out.Envelope.Recipients, r.Address.String())
	}
	out.Recipients = []rcptOutcome{}
	start := time.Now()
	mark := func(stage string) { out.TimingsMS[stage] = time.Since(start).Milliseconds(); start = time.Now() }

	c, err := openSession(ctx, d, out, mark)
	if err != nil || c == nil {
		out.sendErr = err
		return out, err
	}
	defer c.Close()
	if d.quitAfter == "mail" || d.quitAfter == "rcpt" {
		return out, probeEnvelope(c, d, out)
	}

	res, err := c.Send(d.env, d.body, &d.send)
	mark("transaction")
	out.result, out.sendErr = res, err
	if res != nil {
		out.Size = res.Size
		out.QueueID = res.QueueID
		for _, r := range res.Recipients {
			out.Recipients = append(out.Recipients, rcptResult(r))
		}
	}
	if err != nil {
		c.Quit()
		if res != nil && len(res.Recipients) > 1 && res.Accepted() == 0 && errors.Is(err, smtp.ErrNoRecipients) {
			err = &refusedError{res: res, err: err}
		}
		return out, err
	}
	if !d.send.Quit {
		c.Quit()
	}
	mark("quit")
	out.Status = "sent"
	if res.Accepted() < len(res.Recipients) {
		out.Status = "partial"
		return out, &partialError{res: res}
	}
	return out, nil
}

// openSession connects and prepares a session for transactions: greeting,
// EHLO, STARTTLS and AUTH as the account requires, the same policy for a
// send and for a flush of the queue. It fills out as it goes and calls mark
// after each stage. With --quit-after a stage up to auth it stops there and
// returns a nil client and no error.
func openSession(ctx context.Context, d *delivery, out *outcome, mark func(stage string)) (*smtp.Client, error) {
	// The TLS configuration (CA file, client certificate) is loaded before
	// dialling: a configuration error is reported as one (78) whether or
	// not the server can be reached, never as a connection failure (75).
	var tlsCfg *tls.Config
	if d.acct.TLS.Mode != tlsconf.ModeNone {
		cfg, err := d.acct.TLS.Config()
		if err != nil {
			return nil, err
		}
		tlsCfg = cfg
	}
	c, err := dial(ctx, d, tlsCfg)
	if err != nil {
		return nil, err
	}
	mark("connect")
	stop := func(stage string) bool {
		if d.quitAfter == stage {
			c.Quit()
			c.Close()
			out.Status = "stopped"
			return true
		}
		return false
	}
	fail := func(err error) (*smtp.Client, error) {
		c.Quit()
		c.Close()
		return nil, err
	}
	if stop("connect") {
		return nil, nil
	}
	if _, err := c.ReadGreeting(); err != nil {
		return fail(err)
	}
	mark("greeting")
	if stop("greeting") {
		return nil, nil
	}
	if err := c.Hello(); err != nil {
		return fail(err)
	}
	mark("ehlo")
	if stop("ehlo") {
		return nil, nil
	}
	if d.acct.TLS.Mode == tlsconf.ModeStartTLS || d.acct.TLS.Mode == "" {
		// STARTTLS is required in this mode: a server that does not offer
		// it, or refuses it, ends the session (never a plaintext fallback).
		if err := c.StartTLS(tlsCfg); err != nil {
			return fail(err)
		}
		mark("tls")
	}
	if st, ok := c.TLSConnectionState(); ok {
		out.TLS = &tlsOutcome{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite)}
	}
	if stop("tls") {
		return nil, nil
	}
	if err := authenticate(ctx, c, d.acct); err != nil {
		return fail(err)
	}
	out.Auth = c.AuthMechanism()
	if out.Auth != "" {
		mark("auth")
	}
	if stop("auth") {
		return nil, nil
	}
	return c, nil
}

// probeEnvelope sends MAIL and the RCPTs without data (--quit-after mail or
// rcpt), then QUIT.
func probeEnvelope(c *smtp.Client, d *delivery, out *outcome) error {
	defer c.Quit()
	if err := c.Mail(d.env); err != nil {
		return err
	}
	if d.quitAfter == "mail" {
		out.Status = "stopped"
		return nil
	}
	res := &smtp.Result{}
	for _, r := range d.env.Recipients {
		rep, err := c.Rcpt(r)
		rr := smtp.RcptResult{Recipient: r, Reply: rep, Err: err}
		res.Recipients = append(res.Recipients, rr)
		out.Recipients = append(out.Recipients, rcptResult(rr))
	}
	out.Status = "stopped"
	if res.Accepted() < len(res.Recipients) {
		// Exit status 0 says every recipient was accepted.
		return &probeRefusedError{res: res}
	}
	return nil
}

// probeRefusedError reports recipients refused with --quit-after rcpt,
// where nothing is sent: the exit status is that of the worst refusal.
type probeRefusedError struct{ res *smtp.Result }

func (e *probeRefusedError) Error() string {
	return fmt.Sprintf("%d of %d recipients refused (nothing sent: --quit-after rcpt): %s", len(e.res.Recipients)-e.res.Accepted(), len(e.res.Recipients), refusals(e.res))
}

func rcptResult(r smtp.RcptResult) rcptOutcome {
	o := rcptOutcome{Address: r.Recipient.Address.String(), Accepted: r.Accepted(), Code: r.Reply.Code, Enhanced: r.Reply.Enhanced, Message: smtp.Escape(r.Reply.Text())}
	var e *smtp.Error
	if errors.As(r.Err, &e) {
		o.Code, o.Enhanced, o.Message = e.Code, e.Enhanced, e.Message()
	} else if r.Err != nil {
		o.Message = r.Err.Error()
	}
	return o
}

// dial connects as the account's TLS mode says; tlsCfg is the account's
// TLS configuration, nil for --tls none.
func dial(ctx context.Context, d *delivery, tlsCfg *tls.Config) (*smtp.Client, error) {
	a := d.acct
	opts := &smtp.Options{
		LocalName:         ehloName(a.EHLOName),
		AllowInsecureAuth: a.Auth.AllowInsecure,
		Trace:             d.trace,
		TraceData:         d.traceData,
	}
	// HELO has no extensions, so no STARTTLS and no AUTH: allowed only
	// when neither is wanted.
	opts.AllowHELO = a.TLS.Mode == tlsconf.ModeNone && (a.Auth.Disabled || !wantsAuth(a))
	if a.Timeout > 0 {
		opts.Deadline = time.Now().Add(a.Timeout)
	}
	if dl, ok := ctx.Deadline(); ok && (opts.Deadline.IsZero() || dl.Before(opts.Deadline)) {
		opts.Deadline = dl
	}
	timeout := a.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	if a.TLS.Mode == tlsconf.ModeImplicit {
		c, err := smtp.DialTLS(a.Address(), timeout, tlsCfg, opts)
		if err != nil {
			return nil, err
		}
		// A failed handshake breaks the client: report it now.
		if err := c.Err(); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	return smtp.Dial(a.Address(), timeout, opts)
}

// ehloName is the configured name, else this host's name when it is fully
// qualified (RFC 5321 §4.1.1.1), else "localhost".
func ehloName(configured string) string {
	if configured != "" {
		return configured
	}
	if h, err := os.Hostname(); err == nil && strings.Contains(h, ".") && !strings.ContainsAny(h, " \r\n") {
		return h
	}
	return "localhost"
}

// wantsAuth reports whether the account has anything to authenticate with.
func wantsAuth(a *account.Account) bool {
	return a.Auth.User != "" || a.Auth.OAuth2 != nil || len(a.Auth.Mechanisms) > 0 || a.TLS.ClientCertFile != ""
}

// authenticate logs in when the account has credentials. A server that
// offers no AUTH when credentials are configured is an error: sending
// without the login the user asked for could relay as someone else or be
// refused later with a less clear message.
func authenticate(ctx context.Context, c *smtp.Client, a *account.Account) error {
	if a.Auth.Disabled || !wantsAuth(a) {
		return nil
	}
	offered := c.Extensions().AuthMechanisms()
	if len(offered) == 0 {
		return &smtp.StageError{Stage: smtp.StageAuth, Err: fmt.Errorf("%w: the server offers no AUTH here", smtp.ErrAuthUnavailable)}
	}
	var cs *tls.ConnectionState
	if st, ok := c.TLSConnectionState(); ok {
		cs = &st
	}
	cfg := auth.Config{
		Mechanisms:    a.Auth.Mechanisms,
		AllowInsecure: a.Auth.AllowInsecure,
		User:          a.Auth.User,
		ClientCert:    a.TLS.ClientCertFile != "",
		Host:          a.Host,
		Port:          a.Port,
	}
	if a.Auth.Password != nil {
		cfg.Password = func() (string, error) { return a.Auth.Password(ctx) }
	}
	if a.Auth.OAuth2 != nil {
		cfg.Token = func() (string, error) { return a.Auth.OAuth2.Token(ctx) }
	}
	mech, err := auth.Choose(offered, cs, cfg)
	if err != nil {
		return &smtp.StageError{Stage: smtp.StageAuth, Err: err}
	}
	err = c.Auth(mech)
	var refused *smtp.Error
	if err == nil || a.Auth.OAuth2 == nil || !isOAuth(mech) || !errors.As(err, &refused) || refused.Temporary() || c.Err() != nil {
		return err
	}
	// The server refused the access token: it may have been revoked or
	// expired early. Renew it once and try again.
	if _, rerr := a.Auth.OAuth2.Renew(ctx); rerr != nil {
		return fmt.Errorf("%w (renewing the OAuth2 token: %v)", err, rerr)
	}
	if mech, err = auth.Choose(offered, cs, cfg); err != nil {
		return &smtp.StageError{Stage: smtp.StageAuth, Err: err}
	}
	return c.Auth(mech)
}

// isOAuth reports whether mech sends an OAuth2 bearer token.
func isOAuth(mech auth.Mechanism) bool {
	switch mech.(type) {
	case *auth.XOAuth2, *auth.OAuthBearer:
		return true
	}
	return false
}

// partialError reports a message delivered to some recipients only.
type partialError struct{ res *smtp.Result }

func (e *partialError) Error() string {
	return fmt.Sprintf("delivered to %d of %d recipients; refused: %s", e.res.Accepted(), len(e.res.Recipients), refusals(e.res))
}

// refusedError reports a message that each of several recipients refused.
// Like a partial delivery it names every refusal and exits with the code
// of the worst one, not of whichever came first.
type refusedError struct {
	res *smtp.Result
	err error
}

func (e *refusedError) Error() string {
	return fmt.Sprintf("no recipient accepted: %s", refusals(e.res))
}

func (e *refusedError) Unwrap() error { return e.err }

// refusals lists the refused recipients of res with the server's replies.
func refusals(res *smtp.Result) string {
	var refused []string
	for _, r := range res.Recipients {
		if r.Err != nil {
			refused = append(refused, refusalText(r))
		}
	}
	return strings.Join(refused, "; ")
}

func refusalText(r smtp.RcptResult) string {
	var e *smtp.Error
	if errors.As(r.Err, &e) {
		s := fmt.Sprintf("%s: %d", r.Recipient.Address.String(), e.Code)
		if e.Enhanced != "" {
			s += " " + e.Enhanced
		}
		if m := e.Message(); m != "" {
			s += " " + m
		}
		return s
	}
	return r.Recipient.Address.String() + ": " + r.Err.Error()
}

func (e *partialError) hint() string {
	return "the accepted recipients got the message; send again to the refused ones only"
}
