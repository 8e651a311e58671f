package account

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/tlsconf"
)

// Account is everything a submission needs, resolved from the file, the
// environment and the flags. Fields left at their zero value mean "use the
// built-in default" unless documented otherwise.
type Account struct {
	// Name is the account used from the file, or "" when none was.
	Name string
	// ConfigFile is the file read, or "".
	ConfigFile string

	Host string
	// Port defaults to 465 with implicit TLS, else 587.
	Port int
	// TLS is the TLS policy; TLS.Mode defaults to implicit on port 465,
	// else starttls. TLS.ServerName is tls_server_name or Host.
	TLS tlsconf.Policy

	Auth Auth

	// From is the envelope sender: -f/--from, or the account's from when it
	// is an address. Empty when unknown.
	From string
	// FromPattern is the account's from when it is a pattern such as
	// *@example.com.
	FromPattern string
	// EHLOName is the name to greet with; empty means the local host name.
	EHLOName string

	// Timeout caps the whole session; ConnectTimeout the connection set-up.
	// Zero means the built-in defaults.
	Timeout        time.Duration
	ConnectTimeout time.Duration

	DSN DSN
	// OnPartialReject says what to do when some recipients are refused.
	OnPartialReject PartialPolicy
	// AddHeaders says which headers to add when the message lacks them.
	AddHeaders AddHeaders

	// AliasesFile maps local names such as root to addresses; "" for none.
	AliasesFile string
	// LogFile receives one line per delivery attempt; "" for none.
	LogFile string
	// Syslog sends the same lines to the local syslog daemon.
	Syslog bool

	// Queue says when a message is queued instead of, or after, a failed
	// delivery; "" when unset, and the command decides (send: never,
	// sendmail mode: auto).
	Queue QueueMode
	// QueueDir is the queue directory; "" for the default
	// ($XDG_STATE_HOME/outbox/queue).
	QueueDir string
	// FlushAfterSend sends the account's queued messages that are due
	// after a successful delivery. Default true.
	FlushAfterSend bool
	// NotifyFailures mails a failure notice to the sender of a queued
	// message that is given up on. Default false.
	NotifyFailures bool

	merged *profile
}

// Auth is how to authenticate.
type Auth struct {
	// Disabled is true with auth = "none": never authenticate.
	Disabled bool
	// Mechanisms is the user's list of SASL mechanisms in order of
	// preference, upper case; empty means choose automatically.
	Mechanisms []string
	User       string
	// Password returns the password, fetching it on the first call only
	// (running a command, reading a file, asking on the terminal). Nil when
	// no source is configured and no prompt is possible.
	Password func(ctx context.Context) (string, error)
	// PasswordSource describes where the password comes from, for messages
	// and 'outbox config show': "password_command", "$NAME", "prompt", ...
	PasswordSource string
	// OAuth2 gives access tokens for XOAUTH2 and OAUTHBEARER; nil when not
	// configured.
	OAuth2 *OAuth2
	// AllowInsecure permits cleartext mechanisms without TLS.
	AllowInsecure bool
}

// DSN holds delivery status notification defaults (RFC 3461).
type DSN struct {
	// Notify is "never", or some of "success", "failure", "delay"; empty
	// means the server's default.
	Notify []string
	// Return is "full" or "headers"; empty means the server's default.
	Return string
	// EnvID is the envelope identifier; empty for none.
	EnvID string
}

// PartialPolicy says what happens when the server refuses some recipients.
type PartialPolicy string

const (
	// PartialContinue delivers to the accepted recipients and reports the
	// refused ones. The default.
	PartialContinue PartialPolicy = "continue"
	// PartialAbort sends nothing unless every recipient is accepted.
	PartialAbort PartialPolicy = "abort"
)

// QueueMode says when a message goes to the queue.
type QueueMode string

const (
	// QueueAuto queues a message when its delivery fails temporarily
	// (connection refused, timeout, DNS failure, 4xx, outcome unknown),
	// and the recipients refused temporarily of a partly delivered one.
	QueueAuto QueueMode = "auto"
	// QueueAlways queues every message without trying to send it.
	QueueAlways QueueMode = "always"
	// QueueNever never queues: a temporary failure is reported (exit 75).
	QueueNever QueueMode = "never"
)

// ParseQueueMode parses auto, always or never.
func ParseQueueMode(s string) (QueueMode, error) {
	switch m := QueueMode(strings.ToLower(strings.TrimSpace(s))); m {
	case QueueAuto, QueueAlways, QueueNever:
		return m, nil
	}
	return "", fmt.Errorf("unknown value %q (want auto, always or never)", s)
}

// AddHeaders lists the headers added to a message that lacks them. All are
// on by default.
type AddHeaders struct {
	Date      bool
	MessageID bool
	From      bool
}

// Address returns host:port.
func (a *Account) Address() string {
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// Origin says where the setting key (as in the file, e.g. "tls" or
// "oauth2.token_url") came from: "FILE:LINE:COL", "flag --tls",
// "environment variable OUTBOX_TLS", "default", or "" when unset.
func (a *Account) Origin(key string) string {
	if a.merged == nil {
		return ""
	}
	return a.merged.origins[key].String()
}

// knownMechanisms are the SASL mechanisms outbox implements.
var knownMechanisms = []string{
	"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1",
	"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", "OAUTHBEARER", "EXTERNAL",
}

// build checks a merged profile and turns it into an Account. It fetches
// no secret.
func build(p *profile, name, file string, e *env) (*Account, error) {
	a := &Account{Name: name, ConfigFile: file, merged: p}
	o := func(key string) origin { return p.origins[key] }
	bad := func(key, format string, args ...any) *Error {
		return o(key).errorf(ErrValue, displayKey(name, key, o(key)), format, args...)
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}

	a.Host = strings.TrimSuffix(strings.TrimPrefix(str(p.Host), "["), "]")
	if p.Host != nil && (a.Host == "" || strings.ContainsAny(a.Host, " \t\r\n/@")) {
		return nil, bad("host", "invalid host name %q", a.Host)
	}
	if p.Port != nil {
		if *p.Port < 1 || *p.Port > 65535 {
			return nil, bad("port", "port %d out of range 1-65535", *p.Port)
		}
		a.Port = int(*p.Port)
	}
	if p.TLS != nil {
		m, err := tlsconf.ParseMode(*p.TLS)
		if err != nil {
			e := bad("tls", "%v", err)
			e.Suggestion = suggest(*p.TLS, []string{"starttls", "implicit", "none"})
			return nil, e
		}
		a.TLS.Mode = m
	}
	// Port 465 is implicit TLS (RFC 8314 §7.3); 587 is submission with
	// STARTTLS (RFC 6409).
	if a.TLS.Mode == "" {
		a.TLS.Mode = tlsconf.ModeStartTLS
		if a.Port == 465 {
			a.TLS.Mode = tlsconf.ModeImplicit
		}
		m := string(a.TLS.Mode)
		p.TLS = &m
		p.setDefault("tls")
	}
	if a.Port == 0 {
		a.Port = 587
		if a.TLS.Mode == tlsconf.ModeImplicit {
			a.Port = 465
		}
		port := int64(a.Port)
		p.Port = &port
		p.setDefault("port")
	}
	a.TLS.CAFile = str(p.TLSCA)
	pins, err := stringList(p.TLSPin, false)
	if err != nil {
		return nil, o("tls_pin").errorf(ErrType, displayKey(name, "tls_pin", o("tls_pin")), "%v", err)
	}
	for _, s := range pins {
		pin, err := tlsconf.ParsePin(s)
		if err != nil {
			return nil, bad("tls_pin", "%v", err)
		}
		a.TLS.Pins = append(a.TLS.Pins, pin)
	}
	a.TLS.ClientCertFile = str(p.TLSClientCert)
	a.TLS.ClientKeyFile = str(p.TLSClientKey)
	if p.TLSMinVersion != nil {
		v, err := tlsconf.ParseVersion(*p.TLSMinVersion)
		if err != nil {
			return nil, bad("tls_min_version", "%v", err)
		}
		a.TLS.MinVersion = v
	}
	a.TLS.ServerName = a.Host
	if p.TLSServerName != nil {
		a.TLS.ServerName = *p.TLSServerName
	}

	if err := buildAuth(a, p, name, e, bad); err != nil {
		return nil, err
	}

	if p.From != nil {
		f := strings.TrimSpace(*p.From)
		switch {
		case f == "<>":
			// The null reverse-path (RFC 5321 §4.5.5): sendmail -f '<>'
			// for bounces and notices that must not bounce back.
		case f == "" || strings.ContainsAny(f, " \t\r\n<>"):
			return nil, bad("from", "invalid address or pattern %q", f)
		}
		if strings.Contains(f, "*") {
			if !strings.Contains(f, "@") {
				return nil, bad("from", "pattern %q has no @domain", f)
			}
			a.FromPattern = f
		} else {
			a.From = f
		}
	}
	if p.EHLOName != nil {
		if *p.EHLOName == "" || strings.ContainsAny(*p.EHLOName, " \t\r\n") {
			return nil, bad("ehlo_name", "invalid name %q", *p.EHLOName)
		}
		a.EHLOName = *p.EHLOName
	}
	for _, t := range []struct {
		key string
		v   *string
		dst *time.Duration
	}{{"timeout", p.Timeout, &a.Timeout}, {"connect_timeout", p.ConnectTimeout, &a.ConnectTimeout}} {
		if t.v == nil {
			continue
		}
		d, err := time.ParseDuration(*t.v)
		if err != nil || d <= 0 {
			return nil, bad(t.key, "invalid duration %q: want a positive number with a unit, such as 30s or 5m", *t.v)
		}
		*t.dst = d
	}

	notify, err := stringList(p.DSNNotify, true)
	if err != nil {
		return nil, o("dsn_notify").errorf(ErrType, displayKey(name, "dsn_notify", o("dsn_notify")), "%v", err)
	}
	for _, n := range notify {
		n = strings.ToLower(n)
		switch n {
		case "never", "success", "failure", "delay":
		default:
			e := bad("dsn_notify", "unknown value %q (want never, or some of success, failure, delay)", n)
			e.Suggestion = suggest(n, []string{"never", "success", "failure", "delay"})
			return nil, e
		}
		a.DSN.Notify = append(a.DSN.Notify, n)
	}
	// RFC 3461 §4.1: NEVER excludes the others.
	if len(a.DSN.Notify) > 1 && contains(a.DSN.Notify, "never") {
		return nil, bad("dsn_notify", "never cannot be combined with other values")
	}
	if p.DSNReturn != nil {
		switch strings.ToLower(*p.DSNReturn) {
		case "full":
			a.DSN.Return = "full"
		case "headers", "hdrs":
			a.DSN.Return = "headers"
		default:
			return nil, bad("dsn_return", "unknown value %q (want full or headers)", *p.DSNReturn)
		}
	}
	if p.DSNEnvID != nil {
		// RFC 3461 §4.4: at most 100 characters, printable US-ASCII.
		id := *p.DSNEnvID
		if id == "" || len(id) > 100 || strings.IndexFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) >= 0 {
			return nil, bad("dsn_envid", "want 1 to 100 printable ASCII characters without spaces")
		}
		a.DSN.EnvID = id
	}
	a.OnPartialReject = PartialContinue
	if p.OnPartialReject != nil {
		switch v := PartialPolicy(strings.ToLower(*p.OnPartialReject)); v {
		case PartialContinue, PartialAbort:
			a.OnPartialReject = v
		default:
			e := bad("on_partial_reject", "unknown value %q (want continue or abort)", *p.OnPartialReject)
			e.Suggestion = suggest(*p.OnPartialReject, []string{"continue", "abort"})
			return nil, e
		}
	}
	a.AddHeaders = AddHeaders{Date: boolOr(p.AddDate, true), MessageID: boolOr(p.AddMessageID, true), From: boolOr(p.AddFrom, true)}
	a.AliasesFile = str(p.Aliases)
	a.LogFile = str(p.LogFile)
	a.Syslog = boolOr(p.Syslog, false)
	if p.Queue != nil {
		m, err := ParseQueueMode(*p.Queue)
		if err != nil {
			e := bad("queue", "%v", err)
			e.Suggestion = suggest(*p.Queue, []string{"auto", "always", "never"})
			return nil, e
		}
		a.Queue = m
	}
	a.QueueDir = str(p.QueueDir)
	if p.QueueDir != nil && a.QueueDir == "" {
		return nil, bad("queue_dir", "empty directory name")
	}
	a.FlushAfterSend = boolOr(p.FlushAfterSend, true)
	a.NotifyFailures = boolOr(p.NotifyFailures, false)
	return a, nil
}

func buildAuth(a *Account, p *profile, name string, e *env, bad func(string, string, ...any) *Error) error {
	o := func(key string) origin { return p.origins[key] }
	auth := &a.Auth
	mechs, err := stringList(p.Auth, true)
	if err != nil {
		return o("auth").errorf(ErrType, displayKey(name, "auth", o("auth")), "%v", err)
	}
	for _, m := range mechs {
		switch u := strings.ToUpper(m); {
		case u == "AUTO" && len(mechs) == 1:
		case u == "NONE" && len(mechs) == 1:
			auth.Disabled = true
		case contains(knownMechanisms, u):
			auth.Mechanisms = append(auth.Mechanisms, u)
		default:
			err := bad("auth", "unknown mechanism %q (want auto, none, or a list of %s)", m, strings.Join(knownMechanisms, ", "))
			err.Suggestion = suggest(u, append([]string{"auto", "none"}, knownMechanisms...))
			return err
		}
	}
	auth.AllowInsecure = boolOr(p.AllowInsecureAuth, false)
	if p.User != nil {
		auth.User = *p.User
	}

	src, err := passwordSource(p, name, a, e)
	if err != nil {
		return err
	}
	if src != nil {
		auth.Password, auth.PasswordSource = src.once(), src.desc
	}
	if p.OAuth2 != nil {
		if auth.OAuth2, err = buildOAuth2(p, name, a, e); err != nil {
			return err
		}
	}
	return nil
}

// passwordSource returns the configured source, the terminal prompt when
// there is none, or nil.
func passwordSource(p *profile, name string, a *Account, e *env) (*secret, error) {
	set, err := oneOf(p, name, []string{"password", "password_command", "password_env", "password_file", "keyring"},
		[]bool{p.Password != nil, p.PasswordCommand != nil, p.PasswordEnv != nil, p.PasswordFile != nil, p.Keyring != nil && *p.Keyring})
	if err != nil {
		return nil, err
	}
	o := p.origins[set]
	key := displayKey(name, set, o)
	switch set {
	case "password":
		return literalSecret("password", *p.Password), nil
	case "password_command":
		return commandSecret(key, o, *p.PasswordCommand, e)
	case "password_env":
		return envSecret(key, o, *p.PasswordEnv, e)
	case "password_file":
		return fileSecret(key, o, *p.PasswordFile, e), nil
	case "keyring":
		return keyringSecret(key, o, a, e), nil
	}
	if e.prompt != nil && a.Auth.User != "" {
		return promptSecret(a, e), nil
	}
	return nil, nil
}

// oneOf returns which of the keys is set; setting more than one in the same
// place is an error.
func oneOf(p *profile, name string, keys []string, set []bool) (string, error) {
	found := ""
	for i, k := range keys {
		if !set[i] {
			continue
		}
		if found != "" {
			o := p.origins[k]
			return "", o.errorf(ErrValue, displayKey(name, k, o), "%s and %s are both set; keep one", found, k)
		}
		found = k
	}
	return found, nil
}

// displayKey is the key as the user wrote it: with its table when it came
// from the file.
func displayKey(name, key string, o origin) string {
	if o.file == "" {
		return ""
	}
	if name == "" {
		return "defaults." + key
	}
	return "accounts." + name + "." + key
}

// stringList accepts a string or a list of strings. With commas, a string
// is split on them ("success,failure").
func stringList(v any, commas bool) ([]string, error) {
	var raw []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if commas {
			raw = strings.Split(x, ",")
		} else {
			raw = []string{x}
		}
	case []string:
		raw = x
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("expected a string or a list of strings, found a list holding %s", tomlTypeName(e))
			}
			raw = append(raw, s)
		}
	default:
		return nil, fmt.Errorf("expected a string or a list of strings, found %s", tomlTypeName(v))
	}
	var out []string
	for _, s := range raw {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p *profile) setDefault(key string) {
	if p.origins == nil {
		p.origins = map[string]origin{}
	}
	p.origins[key] = origin{isDefault: true}
}

func tomlTypeName(v any) string {
	switch v.(type) {
	case int64, int:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a table"
	case []any:
		return "a list"
	}
	return "a date or time"
}
