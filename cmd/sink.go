package cmd

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/outbox-smtp/outbox/sink"
	"github.com/urfave/cli/v2"
)

// Flags of outbox sink.
const (
	flagSinkListen       = "listen"
	flagSinkMaildir      = "maildir"
	flagSinkMbox         = "mbox"
	flagSinkStdout       = "stdout"
	flagSinkTLS          = "tls"
	flagSinkTLSCert      = "tls-cert"
	flagSinkTLSKey       = "tls-key"
	flagSinkWriteCA      = "write-ca"
	flagSinkUser         = "user"
	flagSinkPasswordEnv  = "password-env"
	flagSinkAnyCreds     = "any-credentials"
	flagSinkInsecureAuth = "allow-insecure-auth"
	flagSinkRejectRcpt   = "reject-rcpt"
	flagSinkTempfailRate = "tempfail-rate"
	flagSinkSeed         = "seed"
	flagSinkDelay        = "delay"
	flagSinkMaxSize      = "max-size"
	flagSinkCount        = "count"
	flagSinkTimeout      = "timeout"
	flagSinkHostname     = "hostname"
	flagSinkJSON         = "json"
	flagSinkLMTP         = "lmtp"
	flagSinkAddrFile     = "addr-file"
)

const (
	defaultSinkListen  = "127.0.0.1:2525"
	defaultSinkMaxSize = 64 << 20
	// sinkShutdownTimeout bounds how long the sink waits, once told to
	// stop, for messages whose data has started.
	sinkShutdownTimeout = 30 * time.Second
)

// sinkRequest is outbox sink's command line as a plain value.
type sinkRequest struct {
	cfg      sink.Config
	store    string // "maildir", "mbox" or "stdout"
	storeArg string // the directory or file
	writeCA  string
	addrFile string
	timeout  time.Duration
	json     bool
}

func sinkCommand() *cli.Command {
	rules := &ruleFlag{}
	return &cli.Command{
		Name:      "sink",
		Usage:     "run a capture SMTP server for development and tests",
		ArgsUsage: " ",
		Description: "outbox sink accepts mail on a loopback address, stores each message with its\n" +
			"envelope (Return-Path, X-Original-To, Delivered-To) in a Maildir, an mbox file\n" +
			"or on standard output, and prints one line (or one JSON object with --json)\n" +
			"per message. With --count and --timeout a CI job can check that an\n" +
			"application sent exactly N messages. --reject-rcpt, --tempfail-rate and\n" +
			"--delay make it refuse or stall, to test how a client copes.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagSinkListen, Value: defaultSinkListen, Usage: "listen on `ADDR`; a port of 0 picks a free one; listening beyond loopback needs an explicit address"},
			&cli.StringFlag{Name: flagSinkMaildir, Usage: "store messages in the Maildir `DIR` (created when missing)"},
			&cli.StringFlag{Name: flagSinkMbox, Usage: "append messages to the mbox `FILE`"},
			&cli.BoolFlag{Name: flagSinkStdout, Usage: "write messages to standard output in mbox format and the per-message lines to standard error; the default without --maildir or --mbox"},
			&cli.StringFlag{Name: flagSinkTLS, Value: sink.TLSStartTLS.String(), Usage: "TLS `MODE`: starttls, implicit or none"},
			&cli.StringFlag{Name: flagSinkTLSCert, Usage: "server certificate chain in PEM `FILE` (default: a generated one)"},
			&cli.StringFlag{Name: flagSinkTLSKey, Usage: "private key in PEM `FILE` for --tls-cert"},
			&cli.StringFlag{Name: flagSinkWriteCA, Usage: "write the certificate clients should trust to `FILE`, for their --tls-ca"},
			&cli.StringFlag{Name: flagSinkUser, Usage: "require AUTH as `USER`, with the password from --password-env"},
			&cli.StringFlag{Name: flagSinkPasswordEnv, Usage: "read the password for --user from the environment variable `VAR`"},
			&cli.BoolFlag{Name: flagSinkAnyCreds, Usage: "require AUTH but accept any user name and password"},
			&cli.BoolFlag{Name: flagSinkInsecureAuth, Usage: "offer AUTH without TLS"},
			&cli.GenericFlag{Name: flagSinkRejectRcpt, Value: rules, Usage: "refuse recipients that match `RULE`, REGEX=CODE[ X.Y.Z][ TEXT] such as '^bob@=550 5.1.1 no such user' (repeatable)"},
			&cli.Float64Flag{Name: flagSinkTempfailRate, Usage: "refuse this `FRACTION` of messages with 451 after their data"},
			&cli.Uint64Flag{Name: flagSinkSeed, Usage: "seed `N` for --tempfail-rate, to repeat the same refusals"},
			&cli.DurationFlag{Name: flagSinkDelay, Usage: "wait `DURATION` before each reply"},
			&cli.Int64Flag{Name: flagSinkMaxSize, Value: defaultSinkMaxSize, Usage: "largest message accepted, in `BYTES`; 0 for no limit"},
			&cli.IntFlag{Name: flagSinkCount, Usage: "exit after `N` messages"},
			&cli.DurationFlag{Name: flagSinkTimeout, Usage: "exit after `DURATION`; with --count, exit 75 if fewer messages arrived"},
			&cli.StringFlag{Name: flagSinkHostname, Value: "localhost", Usage: "`NAME` in the greeting and the generated certificate"},
			&cli.BoolFlag{Name: flagSinkJSON, Usage: "print one JSON object per message"},
			&cli.BoolFlag{Name: flagSinkLMTP, Usage: "speak LMTP instead of SMTP"},
			&cli.StringFlag{Name: flagSinkAddrFile, Usage: "write the address listened on to `FILE` once listening (useful with port 0)"},
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &UsageError{Err: err, Hint: "run 'outbox sink --help' for usage"}
		},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &UsageError{Err: fmt.Errorf("outbox sink takes no arguments, got %q", c.Args().First()), Hint: "run 'outbox sink --help' for usage"}
			}
			req, err := sinkRequestFrom(c, rules.rules)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runSink(ctx, stop, req, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// sinkRequestFrom checks the flags and turns them into a request.
func sinkRequestFrom(c *cli.Context, rules []sink.Rule) (*sinkRequest, error) {
	usage := func(format string, args ...any) error {
		return &UsageError{Err: fmt.Errorf(format, args...), Hint: "run 'outbox sink --help' for usage"}
	}
	req := &sinkRequest{
		writeCA:  c.String(flagSinkWriteCA),
		addrFile: c.String(flagSinkAddrFile),
		timeout:  c.Duration(flagSinkTimeout),
		json:     c.Bool(flagSinkJSON),
	}
	cfg := &req.cfg
	cfg.Listen = c.String(flagSinkListen)
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, usage("--%s %q: %v", flagSinkListen, cfg.Listen, err)
	}
	cfg.Hostname = c.String(flagSinkHostname)

	var stores []string
	for _, name := range []string{flagSinkMaildir, flagSinkMbox, flagSinkStdout} {
		if c.IsSet(name) {
			stores = append(stores, "--"+name)
		}
	}
	switch {
	case len(stores) > 1:
		return nil, usage("choose one of %s", strings.Join(stores, ", "))
	case c.IsSet(flagSinkMaildir):
		req.store, req.storeArg = flagSinkMaildir, c.String(flagSinkMaildir)
	case c.IsSet(flagSinkMbox):
		req.store, req.storeArg = flagSinkMbox, c.String(flagSinkMbox)
	default:
		req.store = flagSinkStdout
	}
	if (req.store == flagSinkMaildir || req.store == flagSinkMbox) && req.storeArg == "" {
		return nil, usage("--%s needs a path", req.store)
	}

	mode, err := sink.ParseTLSMode(c.String(flagSinkTLS))
	if err != nil {
		return nil, usage("--%s: %v", flagSinkTLS, err)
	}
	cfg.TLS = mode
	certFile, keyFile := c.String(flagSinkTLSCert), c.String(flagSinkTLSKey)
	if (certFile == "") != (keyFile == "") {
		return nil, usage("--%s and --%s go together", flagSinkTLSCert, flagSinkTLSKey)
	}
	if mode == sink.TLSNone && (certFile != "" || req.writeCA != "") {
		return nil, usage("--%s none takes no certificate", flagSinkTLS)
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, usage("--%s: %v", flagSinkTLSCert, err)
		}
		cfg.Certificate = &cert
	}

	cfg.User = c.String(flagSinkUser)
	cfg.AnyCredentials = c.Bool(flagSinkAnyCreds)
	cfg.AllowInsecureAuth = c.Bool(flagSinkInsecureAuth)
	switch env := c.String(flagSinkPasswordEnv); {
	case cfg.User != "" && cfg.AnyCredentials:
		return nil, usage("--%s and --%s exclude each other", flagSinkUser, flagSinkAnyCreds)
	case cfg.User != "" && env == "":
		return nil, usage("--%s needs --%s VAR", flagSinkUser, flagSinkPasswordEnv)
	case cfg.User == "" && env != "":
		return nil, usage("--%s needs --%s", flagSinkPasswordEnv, flagSinkUser)
	case env != "":
		cfg.Password = os.Getenv(env)
		if cfg.Password == "" {
			return nil, usage("--%s: the environment variable %s is empty or unset", flagSinkPasswordEnv, env)
		}
	}
	cfg.RequireAuth = cfg.User != "" || cfg.AnyCredentials
	if cfg.RequireAuth && mode == sink.TLSNone && !cfg.AllowInsecureAuth {
		return nil, &UsageError{
			Err:  fmt.Errorf("AUTH is offered only over TLS, and --%s is none", flagSinkTLS),
			Hint: fmt.Sprintf("use --%s starttls, or add --%s", flagSinkTLS, flagSinkInsecureAuth),
		}
	}

	cfg.RejectRcpt = rules
	cfg.TempfailRate = c.Float64(flagSinkTempfailRate)
	if cfg.TempfailRate < 0 || cfg.TempfailRate > 1 {
		return nil, usage("--%s %v: want a fraction from 0 to 1", flagSinkTempfailRate, cfg.TempfailRate)
	}
	cfg.Seed = c.Uint64(flagSinkSeed)
	cfg.Delay = c.Duration(flagSinkDelay)
	cfg.MaxSize = c.Int64(flagSinkMaxSize)
	cfg.Count = c.Int(flagSinkCount)
	cfg.LMTP = c.Bool(flagSinkLMTP)
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{flagSinkDelay, cfg.Delay < 0},
		{flagSinkMaxSize, cfg.MaxSize < 0},
		{flagSinkCount, cfg.Count < 0},
		{flagSinkTimeout, req.timeout < 0},
	} {
		if f.neg {
			return nil, usage("--%s must not be negative", f.name)
		}
	}
	return req, nil
}

// runSink serves until --count messages arrived, --timeout passed or ctx
// ends (a signal); stop restores the default signal handling, so a second
// interrupt ends the process at once.
func runSink(ctx context.Context, stop func(), req *sinkRequest, stdout, stderr io.Writer) error {
	cfg := req.cfg
	lines := stdout
	switch req.store {
	case flagSinkMaildir:
		md, err := sink.NewMaildir(req.storeArg)
		if err != nil {
			return err
		}
		cfg.Store = md
	case flagSinkMbox:
		mb, err := sink.NewMbox(req.storeArg)
		if err != nil {
			return err
		}
		cfg.Store = mb
	default:
		cfg.Store = sink.NewStream(stdout)
		lines = stderr
	}
	var outMu sync.Mutex
	cfg.OnMessage = func(m sink.Message) {
		outMu.Lock()
		defer outMu.Unlock()
		writeSinkLine(lines, m, req.json)
	}
	cfg.Logf = func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(stderr, "outbox: warning: sink: %s\n", oneLine(strings.TrimSpace(fmt.Sprintf(format, args...))))
	}

	srv, err := sink.New(cfg)
	if err != nil {
		return err
	}
	if req.writeCA != "" {
		if err := writeFileAtomic(req.writeCA, srv.CACertPEM(), 0o644); err != nil {
			return err
		}
	}
	addr, err := srv.Start()
	if err != nil {
		return err
	}
	if beyondLoopback(addr) {
		fmt.Fprintf(stderr, "outbox: warning: the sink accepts connections beyond loopback, on %s\n", addr)
	}
	fmt.Fprintf(stderr, "outbox: sink listening on %s (%s)\n", addr, sinkSummary(cfg))
	if cfg.TLS != sink.TLSNone && cfg.Certificate == nil && req.writeCA == "" {
		fmt.Fprintf(stderr, "outbox: hint: the certificate is generated for this run; pass --%s FILE and give FILE to the client's --tls-ca\n", flagSinkWriteCA)
	}
	if req.addrFile != "" {
		if err := writeFileAtomic(req.addrFile, []byte(addr.String()+"\n"), 0o644); err != nil {
			srv.Close()
			return err
		}
	}

	var timeout <-chan time.Time
	if req.timeout > 0 {
		t := time.NewTimer(req.timeout)
		defer t.Stop()
		timeout = t.C
	}
	timedOut := false
	select {
	case <-srv.Done():
	case <-ctx.Done():
	case <-timeout:
		timedOut = true
	}
	stop()

	sctx, cancel := context.WithTimeout(context.Background(), sinkShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("sink: shutting down: %w", err)
	}
	if timedOut && cfg.Count > 0 && srv.Received() < cfg.Count {
		return &sinkTimeoutError{want: cfg.Count, got: srv.Received(), timeout: req.timeout}
	}
	return nil
}

// sinkTimeoutError means --timeout passed before --count messages arrived.
type sinkTimeoutError struct {
	want, got int
	timeout   time.Duration
}

func (e *sinkTimeoutError) Error() string {
	return fmt.Sprintf("sink: %d of %d messages received within %s", e.got, e.want, e.timeout)
}

// sinkLine is the JSON form of one received message.
type sinkLine struct {
	Seq      int       `json:"seq"`
	ID       string    `json:"id"`
	Received time.Time `json:"received"`
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Size     int64     `json:"size"`
	TLS      bool      `json:"tls"`
	AuthUser string    `json:"auth_user,omitempty"`
	Helo     string    `json:"helo"`
	Remote   string    `json:"remote"`
	Path     string    `json:"path,omitempty"`
}

func writeSinkLine(w io.Writer, m sink.Message, asJSON bool) {
	if asJSON {
		b, _ := json.Marshal(sinkLine{
			Seq: m.Seq, ID: m.ID, Received: m.Received.UTC(), From: m.From, To: m.To, Size: m.Size,
			TLS: m.TLS, AuthUser: m.AuthUser, Helo: m.Helo, Remote: m.Remote, Path: m.Path,
		})
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	to := make([]string, len(m.To))
	for i, a := range m.To {
		to[i] = "<" + a + ">"
	}
	yes := map[bool]string{true: "yes", false: "no"}
	line := fmt.Sprintf("message %d id=%s from=<%s> to=%s size=%d tls=%s", m.Seq, m.ID, m.From, strings.Join(to, ","), m.Size, yes[m.TLS])
	if m.AuthUser != "" {
		line += " auth=" + m.AuthUser
	}
	if m.Path != "" {
		line += " path=" + m.Path
	}
	fmt.Fprintln(w, oneLine(line))
}

// sinkSummary describes the sink's setup for its start-up line.
func sinkSummary(cfg sink.Config) string {
	parts := []string{"TLS " + cfg.TLS.String()}
	switch {
	case cfg.AnyCredentials:
		parts = append(parts, "AUTH required, any credentials")
	case cfg.User != "":
		parts = append(parts, "AUTH required as "+cfg.User)
	}
	if cfg.Count > 0 {
		parts = append(parts, fmt.Sprintf("stopping after %d messages", cfg.Count))
	}
	return strings.Join(parts, ", ")
}

func beyondLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && !tcp.IP.IsLoopback()
}

// writeFileAtomic writes data to a temporary file next to name and renames
// it, so a script polling for name never reads it half written.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, perm)
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// ruleFlag collects --reject-rcpt rules. It is a cli.Generic so that a
// comma inside a regular expression does not split the value.
type ruleFlag struct {
	rules []sink.Rule
}

func (f *ruleFlag) Set(s string) error {
	r, err := sink.ParseRule(s)
	if err != nil {
		return err
	}
	f.rules = append(f.rules, r)
	return nil
}

func (f *ruleFlag) String() string {
	if f == nil {
		return ""
	}
	s := make([]string, len(f.rules))
	for i, r := range f.rules {
		s[i] = r.String()
	}
	return strings.Join(s, " ")
}
