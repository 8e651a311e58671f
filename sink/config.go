package sink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TLSMode says how the sink offers TLS.
type TLSMode int

const (
	// TLSNone serves plain SMTP and does not offer STARTTLS.
	TLSNone TLSMode = iota
	// TLSStartTLS serves plain SMTP and offers the STARTTLS upgrade (RFC 3207).
	TLSStartTLS
	// TLSImplicit expects a TLS handshake as soon as a client connects
	// (RFC 8314 §3.3, "submissions").
	TLSImplicit
)

func (m TLSMode) String() string {
	switch m {
	case TLSNone:
		return "none"
	case TLSStartTLS:
		return "starttls"
	case TLSImplicit:
		return "implicit"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// ParseTLSMode parses "none", "starttls" or "implicit", the names
// [TLSMode.String] returns.
func ParseTLSMode(s string) (TLSMode, error) {
	for _, m := range []TLSMode{TLSNone, TLSStartTLS, TLSImplicit} {
		if strings.EqualFold(s, m.String()) {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown TLS mode %q (want none, starttls or implicit)", s)
}

// Config describes a capture server. The zero value listens nowhere useful:
// set at least Listen, or pass a listener to [Server.Serve].
type Config struct {
	// Listen is the TCP address for [Server.Start], such as "127.0.0.1:2525"
	// or "127.0.0.1:0" for any free port.
	Listen string

	// Hostname is the name the server gives in its greeting and puts in the
	// generated certificate. Empty means "localhost".
	Hostname string

	// TLS says whether the server offers STARTTLS, expects implicit TLS, or
	// neither.
	TLS TLSMode
	// Certificate is the server certificate. When nil and TLS is not
	// [TLSNone], [New] generates a throwaway CA and a certificate it signs
	// for Hostname, "localhost", the loopback addresses and the host of
	// Listen; [Server.CACertPEM] returns that CA for clients to trust.
	Certificate *tls.Certificate

	// RequireAuth refuses MAIL FROM until the client has authenticated.
	RequireAuth bool
	// User and Password are the credentials AUTH PLAIN and AUTH LOGIN accept.
	// AUTH is offered when User is set or AnyCredentials is true.
	User, Password string
	// AnyCredentials accepts every user name and password.
	AnyCredentials bool
	// AllowInsecureAuth offers AUTH on connections without TLS. By default
	// AUTH is offered only after TLS, as a real submission server does
	// (RFC 4954 §4).
	AllowInsecureAuth bool

	// Store keeps each accepted message. Nil keeps messages in memory only,
	// as if Keep were set.
	Store Store
	// Keep retains every accepted message, with its data, for
	// [Server.Messages].
	Keep bool
	// OnMessage, when set, is called once for each accepted message, after
	// it is stored and before the client gets the reply. Calls do not
	// overlap.
	OnMessage func(Message)

	// RejectRcpt refuses recipients that match a rule: the first matching
	// rule gives the reply.
	RejectRcpt []Rule
	// TempfailRate is the probability, from 0 to 1, that a message is
	// refused with a 451 temporary failure after its data was received.
	TempfailRate float64
	// Seed makes the choice of TempfailRate reproducible when not zero.
	Seed uint64
	// Delay is waited before the server answers each batch of client input,
	// the greeting included.
	Delay time.Duration

	// MaxSize is the largest message accepted, in bytes, advertised with
	// SIZE (RFC 1870). Zero means no limit.
	MaxSize int64
	// Count, when positive, is the number of messages after which the
	// server refuses further transactions and closes [Server.Done].
	Count int

	// LMTP serves LMTP (RFC 2033) instead of SMTP: LHLO, and one reply per
	// recipient after the data.
	LMTP bool

	// Logf receives connection errors the server cannot report to a client,
	// such as failed TLS handshakes. Nil discards them.
	Logf func(format string, args ...any)
}

func (c *Config) validate() error {
	if c.TLS < TLSNone || c.TLS > TLSImplicit {
		return fmt.Errorf("sink: unknown TLS mode %d", int(c.TLS))
	}
	if c.TempfailRate < 0 || c.TempfailRate > 1 {
		return fmt.Errorf("sink: tempfail rate %v is outside 0..1", c.TempfailRate)
	}
	if c.MaxSize < 0 {
		return errors.New("sink: negative maximum size")
	}
	if c.Count < 0 {
		return errors.New("sink: negative message count")
	}
	if c.Delay < 0 {
		return errors.New("sink: negative delay")
	}
	if c.User == "" && c.Password != "" {
		return errors.New("sink: a password needs a user name")
	}
	if c.RequireAuth && c.User == "" && !c.AnyCredentials {
		return errors.New("sink: authentication required but no credentials configured")
	}
	if c.RequireAuth && c.TLS == TLSNone && !c.AllowInsecureAuth {
		return errors.New("sink: authentication required but offered only after TLS, and TLS is off")
	}
	for _, r := range c.RejectRcpt {
		if r.Pattern == nil {
			return errors.New("sink: reject rule without a pattern")
		}
		if r.Code < 400 || r.Code > 599 {
			return fmt.Errorf("sink: reject code %d is not 4xx or 5xx", r.Code)
		}
	}
	return nil
}

// Rule refuses the recipients whose address matches Pattern.
type Rule struct {
	Pattern *regexp.Regexp
	// Code is the reply code, 4xx or 5xx.
	Code int
	// Enhanced is the enhanced status code (RFC 3463); zero means class.0.0.
	Enhanced [3]int
	// Message is the reply text; empty means "recipient refused".
	Message string
}

// ruleCode is the "=CODE[ X.Y.Z][ text]" suffix of a rule.
var ruleCode = regexp.MustCompile(`=([45][0-9][0-9])(?: ([245])\.([0-9]{1,3})\.([0-9]{1,3}))?(?: (.*))?$`)

// ParseRule parses "REGEX=CODE", optionally followed by an enhanced code and
// reply text: `^bob@=550 5.1.1 no such user`. The split is at the last "="
// that is followed by a 4xx or 5xx code, so the regular expression may
// contain "=" itself.
func ParseRule(s string) (Rule, error) {
	var loc []int
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != '=' {
			continue
		}
		if m := ruleCode.FindStringSubmatchIndex(s[i:]); m != nil && m[0] == 0 {
			loc = m
			for j := range loc {
				if loc[j] >= 0 {
					loc[j] += i
				}
			}
			break
		}
	}
	if loc == nil {
		return Rule{}, fmt.Errorf("rule %q: want REGEX=CODE, such as '^bob@=550 5.1.1 no such user'", s)
	}
	re, err := regexp.Compile(s[:loc[0]])
	if err != nil {
		return Rule{}, fmt.Errorf("rule %q: %w", s, err)
	}
	r := Rule{Pattern: re}
	r.Code, _ = strconv.Atoi(s[loc[2]:loc[3]])
	if loc[4] >= 0 {
		for i := range 3 {
			r.Enhanced[i], _ = strconv.Atoi(s[loc[4+2*i]:loc[5+2*i]])
		}
		if r.Enhanced[0] != r.Code/100 {
			return Rule{}, fmt.Errorf("rule %q: enhanced code class %d does not match reply code %d", s, r.Enhanced[0], r.Code)
		}
	}
	if loc[10] >= 0 {
		r.Message = s[loc[10]:loc[11]]
	}
	return r, nil
}

func (r Rule) String() string {
	s := fmt.Sprintf("%s=%d", r.Pattern, r.Code)
	if r.Enhanced != [3]int{} {
		s += fmt.Sprintf(" %d.%d.%d", r.Enhanced[0], r.Enhanced[1], r.Enhanced[2])
	}
	if r.Message != "" {
		s += " " + r.Message
	}
	return s
}
