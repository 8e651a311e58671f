package account

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// Options are the inputs of [Resolve] besides the file.
type Options struct {
	// Flags is the command-line layer, filled by cmd; it beats Env.
	Flags Layer
	// Env is the environment layer, usually from [FromEnv]; it beats the
	// file.
	Env Layer
	// Getenv reads the environment for ${VAR} expansion, password_env and
	// the file search; nil means os.Getenv.
	Getenv func(string) string
	// Prompt asks the user for a password on the terminal. It is called
	// only when a user is set, no password source is configured, and the
	// password is actually needed. It returns [ErrNoTerminal] when there is
	// no terminal. Nil disables prompting.
	Prompt func(label string) (string, error)
	// Stderr receives the standard error of password commands; nil
	// discards it.
	Stderr io.Writer
	// SystemConfig is the system-wide file; "" means [SystemConfigFile].
	// Tests set it to a path that does not exist.
	SystemConfig string
}

func (o *Options) getenv() func(string) string {
	if o.Getenv != nil {
		return o.Getenv
	}
	return os.Getenv
}

// Resolve finds and loads the configuration file (if any), picks the
// account and applies the environment and flags over it.
func Resolve(opts Options) (*Account, error) {
	cfg, err := LoadFor(opts)
	if err != nil {
		return nil, err
	}
	return cfg.Resolve(opts)
}

// LoadFor finds the configuration file as [FindConfig] does and loads it.
// It returns nil, nil when there is no file.
func LoadFor(opts Options) (*Config, error) {
	sys := opts.SystemConfig
	if sys == "" {
		sys = SystemConfigFile
	}
	path, err := FindConfig(opts.Flags, opts.Env, opts.getenv(), sys)
	if err != nil || path == "" {
		return nil, err
	}
	return Load(path, opts.getenv())
}

// Resolve picks the account and applies the layers of opts over it. The
// account is, in order: the one named by -a/--account or $OUTBOX_ACCOUNT;
// the one whose from matches the envelope sender (-f/--from or
// $OUTBOX_FROM), the most specific pattern winning; default_account; the
// only account. c may be nil when there is no file.
func (c *Config) Resolve(opts Options) (*Account, error) {
	return c.resolve(opts, true)
}

// ResolveLocal is [Resolve] for commands that do not connect, such as
// those of the queue: the result may have no server, and when the rules
// pick no account among several, [defaults] applies. It gives the
// settings of the queue (queue_dir) as a send would see them.
func ResolveLocal(opts Options) (*Account, error) {
	cfg, err := LoadFor(opts)
	if err != nil {
		return nil, err
	}
	return cfg.resolve(opts, false)
}

func (c *Config) resolve(opts Options, needServer bool) (*Account, error) {
	e := &env{getenv: opts.getenv(), prompt: opts.Prompt, stderr: opts.Stderr}
	opts.Flags.env, opts.Env.env = false, true
	flags, err := opts.Flags.profile()
	if err != nil {
		return nil, err
	}
	envp, err := opts.Env.profile()
	if err != nil {
		return nil, err
	}
	top := flags
	top.inherit(envp)

	name, err := c.choose(&opts, str(top.From), opts.Flags.setsServer() || opts.Env.setsServer())
	var ae *Error
	if err != nil && !needServer && errors.As(err, &ae) && ae.Kind == ErrNoAccount {
		name, err = "", nil
	}
	if err != nil {
		return nil, err
	}
	path := ""
	if c != nil {
		path = c.Path
		if name != "" {
			top.inherit(c.accounts[name])
		} else {
			top.inherit(c.defaults)
		}
	}
	a, err := build(top, name, path, e)
	if err != nil {
		return nil, err
	}
	// The account picked by its from pattern keeps the pattern even though
	// -f/--from gave the sender.
	if name != "" && a.FromPattern == "" {
		if f := str(c.accounts[name].From); strings.Contains(f, "*") {
			a.FromPattern = f
		}
	}
	if a.Host == "" && needServer {
		return nil, &Error{Kind: ErrNoServer, File: path, Msg: "no server to submit to"}
	}
	return a, nil
}

// choose returns the account to use, or "" for none (only [defaults] and
// the layers).
func (c *Config) choose(opts *Options, sender string, layerServer bool) (string, error) {
	for _, l := range []*Layer{&opts.Flags, &opts.Env} {
		if l.Account == "" {
			continue
		}
		o := l.origin(fieldAccount)
		if c == nil {
			e := o.errorf(ErrUnknownAccount, "", "no account named %q: there is no configuration file", l.Account)
			e.hint = "create one ('outbox config example' prints an annotated example) or pass -C/--config FILE"
			return "", e
		}
		if _, ok := c.accounts[l.Account]; !ok {
			e := o.errorf(ErrUnknownAccount, "", "no account named %q in %s", l.Account, c.Path)
			e.Suggestion = suggest(l.Account, c.Accounts())
			if e.Suggestion == "" {
				e.hint = "the accounts are: " + strings.Join(c.Accounts(), ", ")
			}
			return "", e
		}
		return l.Account, nil
	}
	if c == nil {
		return "", nil
	}
	if sender != "" {
		name, err := c.matchSender(sender)
		if err != nil || name != "" {
			return name, err
		}
	}
	if c.DefaultAccount != "" {
		return c.DefaultAccount, nil
	}
	switch names := c.Accounts(); {
	case len(names) == 1:
		return names[0], nil
	case len(names) == 0 || layerServer:
		return "", nil
	default:
		return "", &Error{Kind: ErrNoAccount, File: c.Path, Msg: "several accounts (" + strings.Join(names, ", ") + ") and no default_account"}
	}
}

// matchSender returns the account whose from matches the address, "" when
// none does. An exact address beats a pattern, and a pattern with more
// literal characters beats one with fewer; a tie between different
// accounts is an error rather than a guess.
func (c *Config) matchSender(addr string) (string, error) {
	best, bestScore, tie := "", -1, ""
	for _, name := range c.Accounts() {
		p := c.accounts[name]
		if p.From == nil {
			continue
		}
		score, ok := matchAddress(*p.From, addr)
		switch {
		case !ok:
		case score > bestScore:
			best, bestScore, tie = name, score, ""
		case score == bestScore:
			tie = name
		}
	}
	if tie != "" {
		if c.DefaultAccount == best || c.DefaultAccount == tie {
			return c.DefaultAccount, nil
		}
		return "", &Error{Kind: ErrNoAccount, File: c.Path,
			Msg:  "the sender " + addr + " matches the from of both " + best + " and " + tie,
			hint: "pick one with -a/--account NAME, or make one from pattern more specific"}
	}
	return best, nil
}

// matchAddress matches an address against an exact address or a pattern in
// which * stands for any run of characters. Comparison ignores case. The
// score ranks matches: exact addresses highest, then patterns by their
// number of literal characters.
func matchAddress(pattern, addr string) (int, bool) {
	p, a := strings.ToLower(pattern), strings.ToLower(strings.Trim(addr, "<> "))
	if !strings.Contains(p, "*") {
		return 1 << 20, p == a
	}
	parts := strings.Split(p, "*")
	if !strings.HasPrefix(a, parts[0]) {
		return 0, false
	}
	rest := a[len(parts[0]):]
	for i, part := range parts[1:] {
		if i == len(parts)-2 {
			if !strings.HasSuffix(rest, part) || len(rest) < len(part) {
				return 0, false
			}
			rest = ""
			break
		}
		j := strings.Index(rest, part)
		if j < 0 {
			return 0, false
		}
		rest = rest[j+len(part):]
	}
	return len(p) - strings.Count(p, "*"), true
}

// profile turns a layer into a profile, recording for each setting the
// flag or variable that gave it.
func (l *Layer) profile() (*profile, error) {
	p := &profile{origins: map[string]origin{}}
	setStr := func(dst **string, v string, f layerField) {
		if v == "" {
			return
		}
		s := v
		*dst = &s
		p.origins[f.key] = l.origin(f)
	}
	if l.Server != "" {
		o := l.origin(fieldServer)
		host, port, err := splitServer(l.Server)
		if err != nil {
			return nil, o.errorf(ErrValue, "", "%v", err)
		}
		p.Host = &host
		p.origins["host"] = o
		p.serverSet = true
		if port != "" {
			n, err := strconv.ParseInt(port, 10, 64)
			if err != nil {
				return nil, o.errorf(ErrValue, "", "invalid port %q", port)
			}
			p.Port = &n
			p.origins["port"] = o
		}
	}
	if l.Port != "" && p.Port == nil {
		o := l.origin(fieldPort)
		n, err := strconv.ParseInt(l.Port, 10, 64)
		if err != nil {
			return nil, o.errorf(ErrValue, "", "invalid port %q", l.Port)
		}
		p.Port = &n
		p.origins["port"] = o
	}
	setStr(&p.TLS, l.TLS, fieldTLS)
	setStr(&p.TLSCA, l.TLSCA, fieldTLSCA)
	if len(l.TLSPins) > 0 {
		pins := make([]any, len(l.TLSPins))
		for i, s := range l.TLSPins {
			pins[i] = s
		}
		p.TLSPin = pins
		p.origins["tls_pin"] = l.origin(fieldTLSPin)
	}
	setStr(&p.TLSClientCert, l.TLSClientCert, fieldTLSClientCert)
	setStr(&p.TLSClientKey, l.TLSClientKey, fieldTLSClientKey)
	setStr(&p.TLSServerName, l.TLSServerName, fieldTLSServerName)
	setStr(&p.TLSMinVersion, l.TLSMinVersion, fieldTLSMinVersion)
	if l.Auth != "" {
		p.Auth = l.Auth
		p.origins["auth"] = l.origin(fieldAuth)
	}
	if l.AllowInsecureAuth != nil {
		b := *l.AllowInsecureAuth
		p.AllowInsecureAuth = &b
		p.origins["allow_insecure_auth"] = l.origin(fieldAllowInsecure)
	}
	setStr(&p.User, l.User, fieldUser)
	setStr(&p.Password, l.Password, fieldPassword)
	setStr(&p.PasswordEnv, l.PasswordEnv, fieldPasswordEnv)
	if l.PasswordCommand != "" {
		o := l.origin(fieldPasswordCmd)
		argv, err := SplitCommand(l.PasswordCommand)
		if err != nil {
			return nil, o.errorf(ErrValue, "", "%v", err)
		}
		p.PasswordCommand = &argv
		p.origins["password_command"] = o
	}
	setStr(&p.PasswordFile, l.PasswordFile, fieldPasswordFile)
	setStr(&p.From, l.From, fieldFrom)
	setStr(&p.EHLOName, l.EHLOName, fieldEHLO)
	setStr(&p.Timeout, l.Timeout, fieldTimeout)
	if l.DSNNotify != "" {
		p.DSNNotify = l.DSNNotify
		p.origins["dsn_notify"] = l.origin(fieldDSNNotify)
	}
	setStr(&p.DSNReturn, l.DSNReturn, fieldDSNReturn)
	setStr(&p.DSNEnvID, l.DSNEnvID, fieldDSNEnvID)
	setStr(&p.OnPartialReject, l.OnPartialReject, fieldPartial)
	setStr(&p.Queue, l.Queue, fieldQueue)
	setStr(&p.QueueDir, l.QueueDir, fieldQueueDir)
	for _, b := range []struct {
		v   *bool
		dst **bool
		f   layerField
	}{{l.FlushAfterSend, &p.FlushAfterSend, fieldFlushAfter}, {l.NotifyFailures, &p.NotifyFailures, fieldNotify}} {
		if b.v != nil {
			x := *b.v
			*b.dst = &x
			p.origins[b.f.key] = l.origin(b.f)
		}
	}
	return p, nil
}

// splitServer splits HOST[:PORT]; an IPv6 address with a port is written
// [ADDR]:PORT.
func splitServer(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1 {
		h, p, err := net.SplitHostPort(s)
		if err == nil {
			return h, p, nil
		}
		if !strings.HasPrefix(s, "[") {
			return "", "", err
		}
		if strings.HasSuffix(s, "]") {
			return s[1 : len(s)-1], "", nil
		}
		return "", "", err
	}
	return s, "", nil
}

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
