package cmd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
)

// prober runs probe sessions with the same settings.
type prober struct {
	acct  *account.Account
	auth  bool
	from  smtp.Address
	rcpts []smtp.Address
	trace io.Writer
}

// probe runs one session against a (the account, with the port and TLS
// mode to probe). The result is filled as far as the session got, also
// when an error is returned.
func (p *prober) probe(ctx context.Context, a *account.Account) (*probeResult, error) {
	r := &probeResult{
		Server:     a.Address(),
		Host:       a.Host,
		Port:       a.Port,
		TLSMode:    string(a.TLS.Mode),
		Connection: probeConnection{Addresses: []string{}, Attempts: []probeAttempt{}},
		TimingsMS:  map[string]float64{},
	}
	if a.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.Timeout)
		defer cancel()
	}
	s := &probeSession{prober: p, acct: a, r: r, last: time.Now()}
	err := s.run(ctx)
	r.OK = err == nil
	if err != nil {
		r.Error = errorOutcomeFor(err)
	}
	return r, err
}

// probeSession is one connection of a probe.
type probeSession struct {
	*prober
	acct *account.Account
	r    *probeResult
	c    *smtp.Client
	last time.Time
}

// step records the time since the previous step.
func (s *probeSession) step(name string) {
	now := time.Now()
	d := now.Sub(s.last)
	s.last = now
	s.r.steps = append(s.r.steps, probeStep{Name: name, Took: d})
	s.r.TimingsMS[name] = milliseconds(d)
}

// milliseconds is d in milliseconds, to the microsecond.
func milliseconds(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

func (s *probeSession) run(ctx context.Context) error {
	a := s.acct
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	opts := &smtp.Options{
		LocalName:         ehloName(a.EHLOName),
		AllowInsecureAuth: a.Auth.AllowInsecure,
		Trace:             s.trace,
		AllowHELO:         a.TLS.Mode == tlsconf.ModeNone && !s.auth,
	}
	if dl, ok := ctx.Deadline(); ok {
		opts.Deadline = dl
	}

	// verifyErr is a certificate that failed the policy: the report goes
	// on (greeting, EHLO), but no login and no envelope is sent.
	var verifyErr error
	if a.TLS.Mode == tlsconf.ModeImplicit {
		s.r.TLS = &probeTLS{Mode: string(a.TLS.Mode), Chain: []probeCert{}}
		// ProbeConfig lets the handshake finish whatever the server
		// presents, so that the report can show the chain; Inspect then
		// applies the policy.
		cfg, err := a.TLS.ProbeConfig()
		if err != nil {
			conn.Close()
			return err
		}
		s.c = smtp.NewClient(tls.Client(conn, cfg), opts)
		s.step("tls")
		if err := s.c.Err(); err != nil {
			s.c.Close()
			s.r.TLS.Error = err.Error()
			return err
		}
		verifyErr = s.inspect()
	} else {
		s.c = smtp.NewClient(conn, opts)
	}
	c := s.c
	defer c.Close()

	_, err = c.ReadGreeting()
	if rep, ok := c.Greeting(); ok {
		s.r.Greeting = greetingResult(rep)
	}
	s.step("greeting")
	if err != nil {
		return s.quit(err)
	}
	err = c.Hello()
	s.step("ehlo")
	if err != nil {
		return s.quit(err)
	}
	s.recordAuthOffer()
	if a.TLS.Mode == tlsconf.ModeImplicit {
		s.r.EHLO.AfterTLS = ehloResult(c.Extensions())
	} else {
		s.r.EHLO.BeforeTLS = ehloResult(c.Extensions())
	}

	offered := c.Extensions().Has(smtp.ExtStartTLS)
	switch a.TLS.Mode {
	case tlsconf.ModeNone:
		s.r.TLS = &probeTLS{Mode: string(a.TLS.Mode), StartTLSOffered: &offered, Chain: []probeCert{}}
	case tlsconf.ModeStartTLS:
		s.r.TLS = &probeTLS{Mode: string(a.TLS.Mode), StartTLSOffered: &offered, Chain: []probeCert{}}
		if !offered {
			// Never go on in plaintext when TLS was asked for.
			s.r.TLS.Error = smtp.ErrStartTLSUnavailable.Error()
			return s.quit(&smtp.StageError{Stage: smtp.StageSTARTTLS, Err: smtp.ErrStartTLSUnavailable})
		}
		cfg, err := a.TLS.ProbeConfig()
		if err != nil {
			return s.quit(err)
		}
		// StartTLS sends EHLO again over TLS (RFC 3207 §4.2).
		err = c.StartTLS(cfg)
		s.step("starttls")
		verifyErr = s.inspect()
		if err != nil {
			if s.r.TLS.Error == "" {
				s.r.TLS.Error = err.Error()
			}
			// A certificate that fails the policy is the finding that
			// matters, whatever broke after the handshake.
			if verifyErr != nil {
				err = verifyErr
			}
			return s.quit(err)
		}
		s.r.EHLO.AfterTLS = ehloResult(c.Extensions())
	}
	s.recordAuthOfferTLS()

	if verifyErr != nil {
		return s.quit(verifyErr)
	}
	if s.auth {
		if err := s.login(ctx); err != nil {
			return s.quit(err)
		}
	}
	if len(s.rcpts) > 0 {
		if err := s.checkRcpts(); err != nil {
			return s.quit(err)
		}
	}
	// The server answered everything asked: a failed QUIT changes no
	// finding.
	c.Quit()
	s.step("quit")
	return nil
}

// recordAuthOffer records the mechanisms offered on the first EHLO.
func (s *probeSession) recordAuthOffer() {
	mechs := nonNil(s.c.Extensions().AuthMechanisms())
	s.r.Auth = &probeAuth{}
	if s.acct.TLS.Mode == tlsconf.ModeImplicit {
		s.r.Auth.AfterTLS = &mechs
	} else {
		s.r.Auth.BeforeTLS = &mechs
	}
}

// recordAuthOfferTLS records the mechanisms offered after STARTTLS.
func (s *probeSession) recordAuthOfferTLS() {
	if s.acct.TLS.Mode == tlsconf.ModeStartTLS && s.r.EHLO.AfterTLS != nil {
		mechs := nonNil(s.c.Extensions().AuthMechanisms())
		s.r.Auth.AfterTLS = &mechs
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// quit ends the session after err and returns err.
func (s *probeSession) quit(err error) error {
	s.c.Quit()
	s.step("quit")
	return err
}

// connect resolves the host and connects to its addresses one after the
// other until one answers.
func (s *probeSession) connect(ctx context.Context) (net.Conn, error) {
	a := s.acct
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, a.Host)
	s.step("resolve")
	if err != nil {
		return nil, &smtp.StageError{Stage: smtp.StageConnect, Err: err}
	}
	for _, ip := range ips {
		s.r.Connection.Addresses = append(s.r.Connection.Addresses, ip.String())
	}
	timeout := a.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	var lastErr error
	for _, ip := range ips {
		addr := net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
		start := time.Now()
		d := net.Dialer{Timeout: timeout}
		conn, err := d.DialContext(ctx, "tcp", addr)
		at := probeAttempt{Address: addr, OK: err == nil, TookMS: milliseconds(time.Since(start))}
		if err != nil {
			at.Error = err.Error()
			lastErr = err
		}
		s.r.Connection.Attempts = append(s.r.Connection.Attempts, at)
		if err == nil {
			s.r.Connection.Remote = conn.RemoteAddr().String()
			s.step("connect")
			return conn, nil
		}
	}
	s.step("connect")
	if lastErr == nil {
		lastErr = fmt.Errorf("%s resolves to no address", a.Host)
	}
	return nil, &smtp.StageError{Stage: smtp.StageConnect, Err: lastErr}
}

// inspect reports the TLS layer and checks it against the account's
// policy. It returns why the certificate fails the policy, or nil.
func (s *probeSession) inspect() error {
	cs, ok := s.c.TLSConnectionState()
	if !ok {
		return nil
	}
	rep := tlsconf.Inspect(cs, &s.acct.TLS)
	t := s.r.TLS
	t.Established = true
	t.Version = rep.Version
	t.Cipher = rep.CipherSuite
	t.ALPN = rep.ALPN
	t.ServerName = rep.ServerName
	t.Resumed = rep.Resumed
	t.Verified = rep.Verified
	now := time.Now()
	for _, ci := range rep.Chain {
		t.Chain = append(t.Chain, certResult(ci, now))
	}
	if rep.Verified {
		return nil
	}
	err := rep.Err
	if err == nil {
		err = errors.New("TLS verification failed")
	}
	t.Error = err.Error()
	var ve *tlsconf.VerifyError
	if errors.As(err, &ve) {
		t.ErrorKind = verifyKindName(ve.Kind)
	}
	return err
}

// verifyKindName is the JSON name of a verification failure.
func verifyKindName(k tlsconf.VerifyKind) string {
	switch k {
	case tlsconf.KindUnknownAuthority:
		return "unknown-authority"
	case tlsconf.KindExpired:
		return "expired"
	case tlsconf.KindNotYetValid:
		return "not-yet-valid"
	case tlsconf.KindWrongName:
		return "wrong-name"
	case tlsconf.KindPinMismatch:
		return "pin-mismatch"
	case tlsconf.KindNoCertificate:
		return "no-certificate"
	}
	return "invalid"
}

func certResult(ci tlsconf.CertInfo, now time.Time) probeCert {
	return probeCert{
		Subject:            smtp.Escape(ci.Subject),
		Issuer:             smtp.Escape(ci.Issuer),
		DNSNames:           escapeAll(ci.DNSNames),
		IPAddresses:        nonNil(ci.IPAddresses),
		Emails:             escapeAll(ci.Emails),
		NotBefore:          ci.NotBefore.UTC(),
		NotAfter:           ci.NotAfter.UTC(),
		DaysLeft:           daysLeft(ci.NotAfter, now),
		IsCA:               ci.IsCA,
		SHA256:             ci.SHA256.String(),
		KeySHA256:          ci.KeySHA256.String(),
		SignatureAlgorithm: ci.SignatureAlgorithm,
		PublicKeyAlgorithm: ci.PublicKeyAlgorithm,
	}
}

// daysLeft counts whole days until t; negative once t has passed.
func daysLeft(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

func escapeAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, smtp.Escape(s))
	}
	return out
}

func greetingResult(rep smtp.Reply) *probeGreeting {
	g := &probeGreeting{Code: rep.Code, Lines: escapeAll(rep.Lines)}
	if len(rep.Lines) > 0 {
		if f := strings.Fields(rep.Lines[0]); len(f) > 0 {
			g.ServerName = smtp.Escape(f[0])
		}
	}
	return g
}

func ehloResult(ext *smtp.Extensions) *probeEHLO {
	e := &probeEHLO{Extensions: []probeExtension{}}
	if ext == nil {
		return e
	}
	e.Domain = smtp.Escape(ext.Domain)
	for _, x := range ext.List {
		e.Extensions = append(e.Extensions, probeExtension{
			Keyword:     x.Keyword,
			Params:      escapeAll(x.Params),
			Description: describeExtension(x),
		})
	}
	e.Invalid = escapeAll(ext.Invalid)
	if len(e.Invalid) == 0 {
		e.Invalid = nil
	}
	return e
}

// login authenticates as send does (authenticate), only ever over a
// verified TLS connection or, without TLS, where the account allows it.
func (s *probeSession) login(ctx context.Context) error {
	err := authenticate(ctx, s.c, s.acct)
	s.step("auth")
	l := &probeLogin{Mechanism: s.c.AuthMechanism(), OK: err == nil}
	if err != nil {
		l.Error = oneLine(err.Error())
	}
	s.r.Auth.Login = l
	return err
}

// checkRcpts asks whether the server would take each recipient: MAIL,
// RCPT for each, then RSET (RFC 5321 §4.1.1.5), which abandons the
// transaction before any data.
func (s *probeSession) checkRcpts() error {
	c := s.c
	rr := &probeRcpt{From: s.from.String(), Recipients: []rcptOutcome{}}
	s.r.Rcpt = rr
	err := c.Mail(&smtp.Envelope{From: s.from})
	s.step("mail")
	rr.Mail = rcptResult(smtp.RcptResult{Recipient: smtp.Recipient{Address: s.from}, Reply: smtp.Reply{Code: 250}, Err: err})
	if err != nil {
		return &mailRefusedError{err: err, authed: s.c.AuthMechanism() != ""}
	}
	var results []smtp.RcptResult
	for _, to := range s.rcpts {
		rep, err := c.Rcpt(smtp.Recipient{Address: to})
		res := smtp.RcptResult{Recipient: smtp.Recipient{Address: to}, Reply: rep, Err: err}
		results = append(results, res)
		rr.Recipients = append(rr.Recipients, rcptResult(res))
		if c.Err() != nil {
			s.step("rcpt")
			return err
		}
	}
	s.step("rcpt")
	err = c.Reset()
	s.step("rset")
	if err != nil {
		return err
	}
	rr.Reset = true
	var refused []smtp.RcptResult
	for _, r := range results {
		if r.Err != nil {
			refused = append(refused, r)
		}
	}
	if len(refused) > 0 {
		return &rcptRefusedError{refused: refused, total: len(results)}
	}
	return nil
}

// mailRefusedError is MAIL refused during --rcpt. A submission server
// usually refuses it before a login.
type mailRefusedError struct {
	err    error
	authed bool
}

func (e *mailRefusedError) Error() string { return e.err.Error() }
func (e *mailRefusedError) Unwrap() error { return e.err }

func (e *mailRefusedError) hint() string {
	var se *smtp.Error
	if !e.authed && errors.As(e.err, &se) && (se.Code == 530 || strings.HasPrefix(se.Enhanced, "5.7.")) {
		return "the server wants a login first: add --auth"
	}
	return ""
}

// rcptRefusedError is --rcpt with some recipients refused. It unwraps to
// the worst refusal, which decides the exit code: a permanent refusal (69)
// before an unknown user (67) before a temporary one (75).
type rcptRefusedError struct {
	refused []smtp.RcptResult
	total   int
}

func (e *rcptRefusedError) Error() string {
	var list []string
	for _, r := range e.refused {
		list = append(list, refusalText(r))
	}
	return fmt.Sprintf("%d of %d recipients refused: %s", len(e.refused), e.total, strings.Join(list, "; "))
}

func (e *rcptRefusedError) Unwrap() error {
	rank := map[int]int{ExitTempFail: 1, ExitNoUser: 2, ExitUnavailable: 3}
	worst := e.refused[0].Err
	for _, r := range e.refused[1:] {
		if rank[ExitCode(r.Err)] > rank[ExitCode(worst)] {
			worst = r.Err
		}
	}
	return worst
}
