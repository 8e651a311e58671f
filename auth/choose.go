package auth

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// Mechanism names as sent in AUTH (RFC 4422 §3.1).
const (
	MechOAuthBearer     = "OAUTHBEARER"
	MechXOAuth2         = "XOAUTH2"
	MechExternal        = "EXTERNAL"
	MechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	MechSCRAMSHA256     = "SCRAM-SHA-256"
	MechSCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	MechSCRAMSHA1       = "SCRAM-SHA-1"
	MechPlain           = "PLAIN"
	MechLogin           = "LOGIN"
	MechCRAMMD5         = "CRAM-MD5"
)

// credential is what a mechanism needs from the account.
type credential int

const (
	needPassword credential = iota
	needToken
	needClientCert
)

type mechInfo struct {
	name string
	need credential
	// cleartext: the mechanism sends a reusable secret that anyone who
	// reads the connection can replay: a password (PLAIN, LOGIN) or a
	// bearer token (RFC 6750 §5.3 and RFC 7628 §5 require TLS for those).
	cleartext bool
	plus      bool
	hash      SCRAMHash
}

// mechanisms lists every mechanism outbox implements, in the order
// [Choose] prefers them when the account configures none: an OAuth token
// or a client certificate is configured on purpose, so it wins; then the
// password mechanisms from strongest to weakest.
var mechanisms = []mechInfo{
	{name: MechOAuthBearer, need: needToken, cleartext: true},
	{name: MechXOAuth2, need: needToken, cleartext: true},
	{name: MechExternal, need: needClientCert},
	{name: MechSCRAMSHA256Plus, need: needPassword, plus: true, hash: SHA256},
	{name: MechSCRAMSHA256, need: needPassword, hash: SHA256},
	{name: MechSCRAMSHA1Plus, need: needPassword, plus: true, hash: SHA1},
	{name: MechSCRAMSHA1, need: needPassword, hash: SHA1},
	{name: MechPlain, need: needPassword, cleartext: true},
	{name: MechLogin, need: needPassword, cleartext: true},
	{name: MechCRAMMD5, need: needPassword},
}

func lookup(name string) (mechInfo, bool) {
	for _, m := range mechanisms {
		if m.name == name {
			return m, true
		}
	}
	return mechInfo{}, false
}

// Names returns the mechanisms outbox implements, in the order [Choose]
// prefers them.
func Names() []string {
	names := make([]string, len(mechanisms))
	for i, m := range mechanisms {
		names[i] = m.name
	}
	return names
}

// Config is what an account says about authentication.
type Config struct {
	// Mechanisms lists the mechanisms the account allows, most preferred
	// first; the first one the server offers and the connection permits is
	// used. Empty means automatic: the strongest the credentials allow, in
	// the order of [Names]. Names are case-insensitive.
	Mechanisms []string
	// AllowInsecure allows mechanisms that send a password or bearer token
	// in clear (PLAIN, LOGIN, XOAUTH2, OAUTHBEARER) on a connection without
	// TLS. It is --allow-insecure-auth on the command line and
	// allow_insecure_auth = true in the account file.
	AllowInsecure bool

	// User is the authentication identity (the login name).
	User string
	// Authzid is the optional authorization identity: the user to act as,
	// when it differs from User (RFC 4422 §2).
	Authzid string
	// Password yields the password; nil means the account has none.
	Password SecretSource
	// Token yields an OAuth 2.0 access token; nil means the account has
	// none.
	Token SecretSource
	// ClientCert says that a TLS client certificate is configured, which
	// EXTERNAL needs.
	ClientCert bool

	// Host and Port name the server for OAUTHBEARER (RFC 7628 §3.1);
	// optional.
	Host string
	Port int
	// ChannelBinding forces a channel binding type for the -PLUS
	// mechanisms (BindingTLSExporter, BindingTLSUnique or
	// BindingTLSServerEndPoint); empty picks by TLS version.
	ChannelBinding string
	// MinIterations and MaxIterations bound the SCRAM iteration count; zero
	// means DefaultMinIterations and DefaultMaxIterations.
	MinIterations, MaxIterations int
}

// Validate reports settings that can never work, whatever the server
// offers. Errors match [ErrConfig].
func (c *Config) Validate() error {
	for _, raw := range c.Mechanisms {
		name := normalize(raw)
		info, ok := lookup(name)
		if !ok {
			return fmt.Errorf("%w: unknown mechanism %q (known: %s)", ErrConfig, escape(raw), strings.Join(Names(), ", "))
		}
		if !c.has(info.need) {
			return fmt.Errorf("%w: %s needs %s, and none is configured", ErrConfig, name, credentialName(info.need))
		}
		if c.User == "" && (info.need == needPassword || name == MechXOAuth2) {
			return fmt.Errorf("%w: %s needs a user name", ErrConfig, name)
		}
	}
	if len(c.Mechanisms) == 0 {
		if c.Password == nil && c.Token == nil && !c.ClientCert {
			return fmt.Errorf("%w: no credentials: configure a password, an OAuth 2.0 token or a TLS client certificate", ErrConfig)
		}
		if c.Password != nil && c.User == "" {
			return fmt.Errorf("%w: a password is configured without a user name", ErrConfig)
		}
	}
	switch c.ChannelBinding {
	case "", BindingTLSExporter, BindingTLSUnique, BindingTLSServerEndPoint:
	default:
		return fmt.Errorf("%w: unknown channel binding type %q (known: %s, %s, %s)", ErrConfig, escape(c.ChannelBinding), BindingTLSExporter, BindingTLSUnique, BindingTLSServerEndPoint)
	}
	if c.MinIterations < 0 || c.MaxIterations < 0 || c.MaxIterations > 0 && c.MinIterations > c.MaxIterations {
		return fmt.Errorf("%w: SCRAM iteration bounds %d to %d make no sense", ErrConfig, c.MinIterations, c.MaxIterations)
	}
	return nil
}

func (c *Config) has(need credential) bool {
	switch need {
	case needPassword:
		return c.Password != nil
	case needToken:
		return c.Token != nil
	}
	return c.ClientCert
}

func credentialName(need credential) string {
	switch need {
	case needPassword:
		return "a password"
	case needToken:
		return "an OAuth 2.0 token"
	}
	return "a TLS client certificate"
}

func normalize(name string) string { return strings.ToUpper(strings.TrimSpace(name)) }

// reasonError is a refusal reason with its own wording that still matches
// the sentinel.
type reasonError struct {
	reason error
	text   string
}

func (e *reasonError) Error() string { return e.text }
func (e *reasonError) Unwrap() error { return e.reason }

// Refusal says why [Choose] passed over one mechanism.
type Refusal struct {
	Mechanism string
	// Err matches one of ErrNotOffered, ErrInsecure, ErrNoSecret or
	// ErrNoChannelBinding.
	Err error
}

// ChooseError is the error [Choose] returns when no mechanism may be used.
// It matches [ErrNoMechanism] and its Reason.
type ChooseError struct {
	// Reason is the decisive one of ErrInsecure, ErrNoChannelBinding,
	// ErrNoSecret or ErrNotOffered: the first that applies, in that order,
	// to a mechanism the server offers; ErrNotOffered when it offers none
	// that was considered.
	Reason error
	// Offered is the server's list, as received.
	Offered []string
	// Configured is the account's list; empty when automatic.
	Configured []string
	// Refused says, for each mechanism considered, why it was passed over.
	Refused []Refusal
}

func (e *ChooseError) Error() string {
	var names []string
	for _, r := range e.Refused {
		if errors.Is(r.Err, e.Reason) {
			names = append(names, r.Mechanism)
		}
	}
	list := strings.Join(names, ", ")
	offered := make([]string, len(e.Offered))
	for i, o := range e.Offered {
		offered[i] = escape(o)
	}
	var msg string
	switch e.Reason {
	case ErrInsecure:
		pronoun := "it"
		if len(names) > 1 {
			pronoun = "they"
		}
		msg = fmt.Sprintf("refusing %s without TLS: %s would send the %s in clear; use TLS, or allow it with --allow-insecure-auth or allow_insecure_auth = true", list, pronoun, e.secretWords(names))
	case ErrNoChannelBinding:
		msg = fmt.Sprintf("%s needs channel binding, which this connection cannot provide", list)
		for _, r := range e.Refused {
			if errors.Is(r.Err, ErrNoChannelBinding) {
				if detail := strings.TrimPrefix(r.Err.Error(), ErrNoChannelBinding.Error()+": "); detail != r.Err.Error() {
					msg += ": " + detail
				}
				break
			}
		}
	case ErrNoSecret:
		var parts []string
		for _, r := range e.Refused {
			if errors.Is(r.Err, ErrNoSecret) {
				parts = append(parts, r.Err.Error())
			}
		}
		msg = strings.Join(parts, "; ")
	default:
		switch {
		case len(e.Offered) == 0:
			msg = "the server offers no authentication mechanism (no AUTH in its EHLO reply)"
		case len(e.Configured) > 0:
			msg = fmt.Sprintf("the server does not offer %s (it offers %s)", strings.Join(e.Configured, ", "), strings.Join(offered, ", "))
		default:
			msg = fmt.Sprintf("the server offers none of the mechanisms outbox can use with these credentials (it offers %s)", strings.Join(offered, ", "))
		}
	}
	return ErrNoMechanism.Error() + ": " + msg
}

func (e *ChooseError) secretWords(names []string) string {
	pass, token := false, false
	for _, n := range names {
		if info, _ := lookup(n); info.need == needToken {
			token = true
		} else {
			pass = true
		}
	}
	switch {
	case pass && token:
		return "password or token"
	case token:
		return "OAuth 2.0 token"
	}
	return "password"
}

// Unwrap makes a ChooseError match [ErrNoMechanism] and its Reason.
func (e *ChooseError) Unwrap() []error { return []error{ErrNoMechanism, e.Reason} }

// Choose picks the mechanism to log in with. serverMechs is the server's
// AUTH list from the EHLO reply after TLS (RFC 4954 §3; a list learnt
// before STARTTLS must not be used, RFC 3207 §4.2); cs is the TLS state, nil
// for a connection without TLS.
//
// The account's configured mechanisms win, in their order; otherwise the
// strongest the credentials allow, in the order of [Names]. A mechanism is
// used only when the server advertises it; a -PLUS one only when the
// connection yields channel binding data; PLAIN, LOGIN, XOAUTH2 and
// OAUTHBEARER only over TLS unless [Config.AllowInsecure]; EXTERNAL only
// over TLS. Errors are [ErrConfig] for settings that cannot work, or a
// [*ChooseError].
func Choose(serverMechs []string, cs *tls.ConnectionState, cfg Config) (Mechanism, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	secure := cs != nil && cs.HandshakeComplete
	offered := map[string]bool{}
	plusOffered := false
	for _, s := range serverMechs {
		name := normalize(s)
		offered[name] = true
		if info, ok := lookup(name); ok && info.plus {
			plusOffered = true
		}
	}
	var cb *ChannelBinding
	var cbErr error
	if secure {
		cb, cbErr = ChannelBindingFromTLS(cs, cfg.ChannelBinding)
	} else {
		cbErr = fmt.Errorf("%w: the connection has no TLS", ErrNoChannelBinding)
	}

	var candidates []mechInfo
	var configured []string
	if len(cfg.Mechanisms) > 0 {
		for _, raw := range cfg.Mechanisms {
			info, _ := lookup(normalize(raw))
			candidates = append(candidates, info)
			configured = append(configured, info.name)
		}
	} else {
		candidates = mechanisms
	}

	var refused []Refusal
	for _, info := range candidates {
		var why error
		switch {
		case !offered[info.name]:
			why = ErrNotOffered
		case !cfg.has(info.need):
			why = &reasonError{ErrNoSecret, fmt.Sprintf("%s needs %s, and the account has none", info.name, credentialName(info.need))}
		case info.name == MechExternal && !secure:
			why = &reasonError{ErrNoSecret, "EXTERNAL needs a TLS client certificate, and the connection has no TLS"}
		case info.plus && cb == nil:
			why = cbErr
		case info.cleartext && !secure && !cfg.AllowInsecure:
			why = ErrInsecure
		}
		if why != nil {
			refused = append(refused, Refusal{Mechanism: info.name, Err: why})
			continue
		}
		return build(info, cfg, cb, plusOffered)
	}
	return nil, &ChooseError{Reason: decisive(refused), Offered: serverMechs, Configured: configured, Refused: refused}
}

func decisive(refused []Refusal) error {
	for _, reason := range []error{ErrInsecure, ErrNoChannelBinding, ErrNoSecret} {
		for _, r := range refused {
			if errors.Is(r.Err, reason) {
				return reason
			}
		}
	}
	return ErrNotOffered
}

func build(info mechInfo, cfg Config, cb *ChannelBinding, plusOffered bool) (Mechanism, error) {
	switch info.name {
	case MechOAuthBearer:
		return NewOAuthBearer(cfg.User, cfg.Host, cfg.Port, cfg.Token), nil
	case MechXOAuth2:
		return NewXOAuth2(cfg.User, cfg.Token), nil
	case MechExternal:
		return NewExternal(cfg.Authzid), nil
	case MechPlain:
		return NewPlain(cfg.Authzid, cfg.User, cfg.Password), nil
	case MechLogin:
		return NewLogin(cfg.User, cfg.Password), nil
	case MechCRAMMD5:
		return NewCRAMMD5(cfg.User, cfg.Password), nil
	}
	p := SCRAMParams{
		Hash:          info.hash,
		User:          cfg.User,
		Authzid:       cfg.Authzid,
		Password:      cfg.Password,
		MinIterations: cfg.MinIterations,
		MaxIterations: cfg.MaxIterations,
	}
	if info.plus {
		p.ChannelBinding = cb
	} else {
		// RFC 5802 §6: a client that could bind but sees no -PLUS name sends
		// "y", so that a server that does bind detects the stripped list. When
		// the server offered -PLUS (and it is not being used) or there is no
		// binding data, the flag is "n".
		p.AdvertiseBinding = cb != nil && !plusOffered
	}
	return NewSCRAM(p)
}
