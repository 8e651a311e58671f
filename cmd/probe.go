package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
	"github.com/urfave/cli/v2"
)

// Flags of outbox probe, besides the account flags. Its --auth is a switch
// ("log in"), so the account flag --auth MECHS is --auth-mech here.
const (
	flagProbeAuth     = "auth"
	flagProbeAuthMech = "auth-mech"
	flagProbeRcpt     = "rcpt"
	flagProbeJSON     = "json"
	flagProbeVerbose  = "verbose"
)

// probeTarget is one port to probe and how TLS starts on it.
type probeTarget struct {
	Port int
	Mode tlsconf.Mode
}

// probePorts are tried, in order, when HOST is given without a port:
// submission over implicit TLS (RFC 8314 §3.3), submission with STARTTLS
// (RFC 6409 §3.1) and SMTP relay (RFC 5321 §4.5.4). Port 25 is probed with
// STARTTLS too: a relay that offers no TLS is reported as such.
var probePorts = []probeTarget{
	{Port: 465, Mode: tlsconf.ModeImplicit},
	{Port: 587, Mode: tlsconf.ModeStartTLS},
	{Port: 25, Mode: tlsconf.ModeStartTLS},
}

// probeRequest is outbox probe's command line as a plain value.
type probeRequest struct {
	flags   account.Layer
	auth    bool
	rcpts   []string
	json    bool
	verbose int
	// targets, when not empty, are the ports to try one after the other
	// (HOST was given without a port); otherwise the account's port is
	// probed alone.
	targets []probeTarget
}

func probeCommand() *cli.Command {
	verbose := 0
	var flags []cli.Flag
	for _, f := range accountFlags() {
		if !slices.Contains(f.Names(), flagAcctAuth) {
			flags = append(flags, f)
		}
	}
	flags = append(flags,
		&cli.BoolFlag{Name: flagProbeAuth, Usage: "log in with the account's credentials, report the mechanism used, then QUIT"},
		&cli.StringFlag{Name: flagProbeAuthMech, Usage: "with --auth, log in with one of `MECHS` (MECH[,MECH...]; default: the account's auth setting)"},
		&cli.StringSliceFlag{Name: flagProbeRcpt, Usage: "check that the server would accept `ADDRESS` as a recipient: MAIL, RCPT, RSET, no data (repeatable; the sender is -f/--from, else <>)"},
		&cli.BoolFlag{Name: flagProbeJSON, Usage: "print the report as one JSON object on standard output"},
		&cli.BoolFlag{Name: flagProbeVerbose, Aliases: []string{"v"}, Count: &verbose, Usage: "show the protocol transcript on standard error (secrets redacted)"},
	)
	return &cli.Command{
		Name:      "probe",
		Usage:     "connect to a server and report what it offers, without sending mail",
		ArgsUsage: "[HOST[:PORT]]",
		Description: "Connects to HOST (default: the account's server) and reports the addresses it\n" +
			"resolves to, the greeting, the EHLO extensions before and after TLS, the TLS\n" +
			"version, cipher and certificate chain with the SHA-256 pins to paste into\n" +
			"tls_pin, whether the certificate verifies and why not, and how long each step\n" +
			"took. HOST without a port (and without --tls) tries 465 (implicit TLS), 587\n" +
			"(STARTTLS) and 25, and says which work. --auth also logs in; --rcpt checks\n" +
			"that a recipient would be accepted. Nothing is ever sent over a connection\n" +
			"whose certificate fails verification.\n\n" +
			"Exit status: 0 when the server is reachable, its certificate verifies and,\n" +
			"when asked, the login and the recipients pass; otherwise as for send (69\n" +
			"for a certificate that fails verification, 77 for a refused login, 67 for\n" +
			"an unknown recipient, 75 for a server that cannot be reached).\n\n" +
			"Examples:\n" +
			"  outbox probe smtp.example.com\n" +
			"  outbox probe -a work --auth\n" +
			"  outbox probe smtp.example.com:587 --rcpt bob@example.com --json",
		Flags: flags,
		Action: func(c *cli.Context) error {
			req, help, err := probeRequestFrom(c)
			if err != nil || help {
				return err
			}
			req.verbose = verbose
			return runProbe(c.Context, req, c.App.Writer, c.App.ErrWriter, probeColour(c.App.Writer))
		},
	}
}

// probeRequestFrom converts the command line once, at the edge. It accepts
// flags after HOST too, as the synopsis shows them.
func probeRequestFrom(c *cli.Context) (req *probeRequest, help bool, err error) {
	args := c.Args().Slice()
	host := ""
	if len(args) > 0 {
		host, args = args[0], args[1:]
	}
	if help, err := setTrailingFlags(c, args); err != nil || help {
		return nil, help, err
	}
	req = &probeRequest{
		flags: accountLayer(c),
		auth:  c.Bool(flagProbeAuth),
		rcpts: c.StringSlice(flagProbeRcpt),
		json:  c.Bool(flagProbeJSON),
	}
	// accountLayer read the switch --auth as a mechanism list.
	req.flags.Auth = c.String(flagProbeAuthMech)
	if req.flags.Auth != "" && !req.auth {
		return nil, false, &UsageError{Err: errors.New("--auth-mech without --auth"), Hint: "add --auth to log in"}
	}
	if host == "" {
		return req, false, nil
	}
	if req.flags.Server != "" {
		return nil, false, &UsageError{Err: fmt.Errorf("server given twice: %q and -S/--server %q", host, req.flags.Server), Hint: "give HOST[:PORT] or -S/--server, not both"}
	}
	if strings.HasPrefix(host, "-") {
		return nil, false, &UsageError{Err: fmt.Errorf("invalid host %q", host)}
	}
	if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
		req.flags.Server = host
		return req, false, nil
	}
	req.flags.Server = strings.TrimSuffix(host, ":")
	if req.flags.TLS == "" {
		req.targets = probePorts
	}
	return req, false, nil
}

// setTrailingFlags parses the flags that follow HOST (urfave/cli stops at
// the first argument that is not a flag) into c. help reports -h/--help.
func setTrailingFlags(c *cli.Context, args []string) (help bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || !strings.HasPrefix(a, "-") || a == "-" {
			return false, &UsageError{Err: fmt.Errorf("unexpected argument %q", a), Hint: "outbox probe takes one HOST[:PORT]: outbox probe [HOST[:PORT]] [flags]"}
		}
		name := strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		name, value, hasValue := strings.Cut(name, "=")
		f := commandFlag(c.Command.Flags, name)
		if f == nil {
			return false, &UsageError{Err: fmt.Errorf("flag provided but not defined: %s", a)}
		}
		if slices.Contains(f.Names(), "help") {
			return true, cli.ShowSubcommandHelp(c)
		}
		// The parser sets every name of a bool flag (a counted flag such
		// as -v counts once per name); other flags are read by their first
		// name, and slice flags share one value among their names.
		names := f.Names()[:1]
		if _, isBool := f.(*cli.BoolFlag); isBool {
			names = f.Names()
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 == len(args) {
				return false, &UsageError{Err: fmt.Errorf("flag needs an argument: %s", a)}
			}
			i++
			value = args[i]
		}
		for _, n := range names {
			if err := c.Set(n, value); err != nil {
				return false, &UsageError{Err: fmt.Errorf("invalid value %q for flag %s: %v", value, a, err)}
			}
		}
	}
	return false, nil
}

func commandFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

// probeColour reports whether the report on w may use colour: a terminal,
// and NO_COLOR unset (https://no-color.org).
func probeColour(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// runProbe resolves the account, probes its server (or each port of a
// survey), prints the report and returns the error that decides the exit
// code.
func runProbe(ctx context.Context, req *probeRequest, stdout, stderr io.Writer, colour bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	opts, err := layerOptions(req.flags, stderr)
	if err != nil {
		return err
	}
	acct, err := account.Resolve(opts)
	if err != nil {
		return err
	}
	p := &prober{acct: acct, auth: req.auth}
	if req.auth && (acct.Auth.Disabled || !wantsAuth(acct)) {
		return &UsageError{
			Err:  errors.New("--auth: the account has no credentials to log in with"),
			Hint: "give -u/--user and a password source (--password-env, --password-command, --password-file), or set them in the account",
		}
	}
	if len(req.rcpts) > 0 {
		if p.from, err = smtp.ParseAddress(acct.From); err != nil {
			return fmt.Errorf("-f/--from: %w", err)
		}
		for _, s := range req.rcpts {
			a, err := smtp.ParseAddress(s)
			if err != nil {
				return fmt.Errorf("--rcpt: %w", err)
			}
			if a.IsNull() {
				return &UsageError{Err: errors.New("--rcpt: empty address")}
			}
			p.rcpts = append(p.rcpts, a)
		}
	}
	if req.verbose > 0 {
		p.trace = newTraceWriter(stderr)
	}

	if len(req.targets) == 0 {
		res, err := p.probe(ctx, acct)
		if req.json {
			return writeProbeJSON(stdout, res, err)
		}
		newProbeReport(stdout, colour).result(res)
		return err
	}

	survey := &probeSurvey{Host: acct.Host, Working: []int{}}
	var results []error
	for _, t := range req.targets {
		a := *acct
		a.Port, a.TLS.Mode = t.Port, t.Mode
		if p.trace != nil {
			// Each session's transcript counts from its own start.
			fmt.Fprintf(p.trace, "%8s * probing %s (TLS %s)\n", "", a.Address(), a.TLS.Mode)
		}
		res, err := p.probe(ctx, &a)
		survey.Ports = append(survey.Ports, res)
		results = append(results, err)
		if err == nil {
			survey.Working = append(survey.Working, t.Port)
		}
	}
	survey.OK = len(survey.Working) > 0
	err = surveyError(survey, results)
	if req.json {
		return writeProbeJSON(stdout, survey, err)
	}
	newProbeReport(stdout, colour).survey(survey)
	return err
}

// writeProbeJSON prints v indented; err is the probe's outcome, returned
// unless the output itself fails.
func writeProbeJSON(w io.Writer, v any, err error) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Server text shows < and > as they are: addresses are full of them.
	enc.SetEscapeHTML(false)
	if jerr := enc.Encode(v); jerr != nil && err == nil {
		return jerr
	}
	return err
}

// surveyError is nil when some port works. Otherwise it is the failure of
// the port that got furthest: a server reached says more than a refused
// connection (and a bad certificate on 465 must not hide behind "connection
// refused" on 25).
func surveyError(s *probeSurvey, errs []error) error {
	if s.OK {
		return nil
	}
	best := -1
	for i, r := range s.Ports {
		if best < 0 || r.Connection.Remote != "" && s.Ports[best].Connection.Remote == "" {
			best = i
		}
	}
	r := s.Ports[best]
	var ports []string
	for _, p := range s.Ports {
		ports = append(ports, strconv.Itoa(p.Port))
	}
	return &surveyFailure{host: s.Host, ports: strings.Join(ports, ", "), port: r.Port, err: errs[best]}
}

// surveyFailure is a survey where no port works.
type surveyFailure struct {
	host  string
	ports string // the ports tried
	port  int    // the one whose error is err
	err   error
}

func (e *surveyFailure) Error() string {
	return fmt.Sprintf("no port of %s works (tried %s); port %d: %v", e.host, e.ports, e.port, e.err)
}

func (e *surveyFailure) Unwrap() error { return e.err }
