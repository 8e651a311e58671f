package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/urfave/cli/v2"
)

// Flags of outbox send (besides the account flags).
const (
	flagSendFile      = "file"
	flagSendReadRcpts = "read-recipients"
	flagSendSubject   = "subject"
	flagSendBody      = "body"
	flagSendBodyFile  = "body-file"
	flagSendHeader    = "header"
	flagSendTo        = "to"
	flagSendCc        = "cc"
	flagSendBcc       = "bcc"
	flagSendAttach    = "attach"
	flagSendDryRun    = "dry-run"
	flagSendJSON      = "json"
	flagSendVerbose   = "verbose"
	flagSendQuitAfter = "quit-after"
	flagSendNoChunk   = "no-chunking"
	flagSendQueue     = "queue"
	flagQueueDir      = "queue-dir"
)

// sendRequest is outbox send's command line as a plain value.
type sendRequest struct {
	flags          account.Layer
	recipients     []string // positional
	file           string   // "" or "-" for stdin
	readRecipients bool
	compose        *composeRequest // nil: the input is a whole message
	dryRun         bool
	json           bool
	verbose        int
	quitAfter      string
	noChunking     bool
	// defaultQueue is the queue mode when neither a flag, the environment
	// nor the account sets one: never for send, auto in sendmail mode.
	defaultQueue account.QueueMode
	// sendmail mode
	ignoreDots bool   // without -i, a lone "." ends the input
	fullName   string // -F
	body       smtp.BodyType
}

// composeRequest is a message to build from flags.
type composeRequest struct {
	subject  string
	body     *string // --body
	bodyFile string
	headers  []string
	to, cc   []string
	bcc      []string
	attach   []string
}

func sendCommand() *cli.Command {
	verbose := 0
	flags := append(accountFlags(),
		&cli.StringFlag{Name: flagSendFile, Usage: "read the message from `FILE` (- for standard input, the default)"},
		&cli.BoolFlag{Name: flagSendReadRcpts, Aliases: []string{"t"}, Usage: "take recipients from the To, Cc and Bcc headers too (and strip Bcc)"},
		&cli.StringFlag{Name: flagSendSubject, Aliases: []string{"s"}, Usage: "compose a message with this `SUBJECT`; the body comes from --body, --body-file or standard input"},
		&cli.StringFlag{Name: flagSendBody, Usage: "the `TEXT` of a composed message"},
		&cli.StringFlag{Name: flagSendBodyFile, Usage: "read the body of a composed message from `FILE`"},
		&cli.StringSliceFlag{Name: flagSendHeader, Aliases: []string{"H"}, Usage: "add the header `\"NAME: VALUE\"` to a composed message (repeatable)"},
		&cli.StringSliceFlag{Name: flagSendTo, Usage: "compose: add `ADDRESS` to To (repeatable)"},
		&cli.StringSliceFlag{Name: flagSendCc, Usage: "compose: add `ADDRESS` to Cc (repeatable)"},
		&cli.StringSliceFlag{Name: flagSendBcc, Usage: "compose: send a blind copy to `ADDRESS` (repeatable)"},
		&cli.StringSliceFlag{Name: flagSendAttach, Usage: "compose: attach `FILE`, or FILE;type=MIME/TYPE (repeatable)"},
		&cli.BoolFlag{Name: flagSendDryRun, Usage: "print the envelope and the final message; send nothing"},
		&cli.BoolFlag{Name: flagSendJSON, Usage: "print the result as one JSON object on standard output"},
		&cli.BoolFlag{Name: flagSendVerbose, Aliases: []string{"v"}, Count: &verbose, Usage: "show the protocol transcript on standard error (-vv: with the message data)"},
		&cli.StringFlag{Name: flagSendQuitAfter, Usage: "stop after `STAGE`: connect, greeting, ehlo, tls, auth, mail or rcpt"},
		&cli.BoolFlag{Name: flagSendNoChunk, Usage: "use DATA even when the server offers CHUNKING", Hidden: true},
		&cli.StringFlag{Name: flagSendQueue, Usage: "`MODE`: never (the default here) reports a temporary failure (exit 75); auto queues the message then and exits 0; always only queues it"},
		queueDirFlag(),
	)
	return &cli.Command{
		Name:      "send",
		Usage:     "submit a message read from standard input, a file, or composed from flags",
		ArgsUsage: "[RECIPIENT...]",
		Description: "Reads an RFC 5322 message from standard input (or --file) and submits it to\n" +
			"the account's server, or composes one with -s/--subject, --body, --attach.\n\n" +
			"Examples:\n" +
			"  echo \"disk full\" | outbox send -s \"db1 alert\" ops@example.com\n" +
			"  outbox send -t < message.eml\n" +
			"  outbox send -a work -s report --attach report.pdf boss@example.com < notes.txt\n" +
			"  OUTBOX_SERVER=smtp.example.com OUTBOX_USER=ci OUTBOX_PASSWORD=... outbox send --json -t < msg",
		Flags: flags,
		// -vv is -v -v, and -tv is -t -v.
		UseShortOptionHandling: true,
		// A flag error belongs to the command line: exit 64 with a hint,
		// not the app's generic failure.
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return flagUsageError("send", flags, err)
		},
		Action: func(c *cli.Context) error {
			req, err := sendRequestFrom(c)
			if err != nil {
				return err
			}
			req.verbose = verbose
			return runSend(c.Context, req, c.App.Reader, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// flagUsageError turns a flag parsing error of command name into a
// [UsageError], suggesting the nearest flag for an unknown one.
func flagUsageError(name string, flags []cli.Flag, err error) error {
	hint := fmt.Sprintf("run 'outbox %s --help' for its flags", name)
	// The flag package reports -name for --name as well.
	dashed := func(f string) string {
		f = strings.TrimLeft(f, "-")
		if len(f) > 1 {
			return "--" + f
		}
		return "-" + f
	}
	if f, ok := strings.CutPrefix(err.Error(), "flag needs an argument: "); ok {
		return &UsageError{Err: fmt.Errorf("flag %s needs a value", dashed(f)), Hint: hint}
	}
	f, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return &UsageError{Err: err, Hint: hint}
	}
	unknown := strings.TrimLeft(f, "-")
	if cli.SuggestFlag != nil {
		s := cli.SuggestFlag(flags, unknown, true)
		if s != "" && editDistance(unknown, strings.TrimLeft(s, "-")) <= 2 {
			hint = fmt.Sprintf("did you mean %s? %s", s, hint)
		}
	}
	return &UsageError{Err: fmt.Errorf("unknown flag %s", dashed(unknown)), Hint: hint}
}

// editDistance is the Levenshtein distance of a and b, to keep only close
// suggestions ("--subjet": "--subject", but "--bogus" suggests nothing).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// sendRequestFrom converts the command line once, at the edge.
func sendRequestFrom(c *cli.Context) (*sendRequest, error) {
	req := &sendRequest{
		flags:          accountLayer(c),
		recipients:     c.Args().Slice(),
		file:           c.String(flagSendFile),
		readRecipients: c.Bool(flagSendReadRcpts),
		dryRun:         c.Bool(flagSendDryRun),
		json:           c.Bool(flagSendJSON),
		quitAfter:      c.String(flagSendQuitAfter),
		noChunking:     c.Bool(flagSendNoChunk),
		ignoreDots:     true,
		defaultQueue:   account.QueueNever,
	}
	req.flags.Queue = c.String(flagSendQueue)
	req.flags.QueueDir = c.String(flagQueueDir)
	// urfave/cli stops at the first argument that is not a flag: a flag
	// after a recipient would silently become a recipient.
	for _, r := range req.recipients {
		if strings.HasPrefix(r, "-") && len(r) > 1 {
			return nil, &UsageError{
				Err:  fmt.Errorf("flag %s after the recipients", r),
				Hint: "put flags before the recipients: outbox send [flags] RECIPIENT...",
			}
		}
	}
	if req.quitAfter != "" && !slices.Contains(quitAfterStages, req.quitAfter) {
		return nil, &UsageError{Err: fmt.Errorf("--quit-after %q", req.quitAfter), Hint: "--quit-after takes one of " + strings.Join(quitAfterStages, ", ")}
	}
	composing := false
	for _, f := range []string{flagSendSubject, flagSendBody, flagSendBodyFile, flagSendHeader, flagSendTo, flagSendCc, flagSendBcc, flagSendAttach} {
		if c.IsSet(f) {
			composing = true
		}
	}
	if composing {
		if req.file != "" {
			return nil, &UsageError{Err: fmt.Errorf("--file reads a whole message; it cannot be combined with composing flags"), Hint: "use --body-file FILE for the text of a composed message"}
		}
		cr := &composeRequest{
			subject:  c.String(flagSendSubject),
			bodyFile: c.String(flagSendBodyFile),
			headers:  c.StringSlice(flagSendHeader),
			to:       c.StringSlice(flagSendTo),
			cc:       c.StringSlice(flagSendCc),
			bcc:      c.StringSlice(flagSendBcc),
			attach:   c.StringSlice(flagSendAttach),
		}
		if c.IsSet(flagSendBody) {
			b := c.String(flagSendBody)
			cr.body = &b
		}
		if cr.body != nil && cr.bodyFile != "" {
			return nil, &UsageError{Err: fmt.Errorf("--body and --body-file both given")}
		}
		req.compose = cr
	}
	return req, nil
}

// runSend does the main job: prepare the message, pick the account, submit,
// and report.
func runSend(ctx context.Context, req *sendRequest, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	msg, err := prepareMessage(req, stdin)
	if err != nil {
		return err
	}
	defer msg.Close()

	flags := req.flags
	if flags.From == "" && msg.from != "" {
		// The sender's address picks the account when -f/--from is not
		// given (like msmtp's auto_from matching).
		flags.From = msg.from
	}
	opts, err := layerOptions(flags, stderr)
	if err != nil {
		return err
	}
	acct, err := account.Resolve(opts)
	if err != nil {
		return err
	}
	env, err := msg.envelope(acct, req)
	if err != nil {
		return err
	}
	body, err := msg.reader(acct, req)
	if err != nil {
		return err
	}
	env.Size = msg.sizeEstimate()
	if msg.header != nil {
		env.UTF8 = msg.header.UTF8()
	}
	if req.dryRun {
		return dryRun(stdout, acct, env, body)
	}
	mode := queueMode(acct, req)
	if mode == account.QueueAlways {
		out, err := queueOnly(acct, env, body)
		return report(req, stdout, out, err)
	}
	d := &delivery{
		acct:      acct,
		env:       env,
		body:      body,
		quitAfter: req.quitAfter,
		send: smtp.SendOptions{
			Quit:       true,
			NoChunking: req.noChunking,
		},
	}
	if acct.OnPartialReject == account.PartialAbort {
		d.send.Partial = smtp.PartialAbort
	}
	if req.verbose > 0 {
		d.trace = newTraceWriter(stderr)
		d.traceData = req.verbose > 1
	}
	var tee *spoolTee
	if mode == account.QueueAuto {
		// The queue is opened only when the message needs it: a small
		// message delivered at once leaves nothing on disk.
		tee = newSpoolTee(body, func() (*queue.Spool, error) {
			dir, err := queueDir(acct)
			if err != nil {
				return nil, err
			}
			q, err := openQueue(dir, true, nil)
			if err != nil {
				return nil, err
			}
			return q.NewSpool()
		})
		d.body = tee
	}
	out, err := deliver(ctx, d)
	if tee != nil {
		if err != nil && out != nil {
			err = queueLeft(tee, acct, env, out, err, stderr)
		} else {
			tee.discard()
		}
	}
	if out != nil && out.Status != "stopped" {
		logs := newDeliveryLogs(stderr)
		logs.log(acct, sendRecord(acct, env, out, msg.messageID()))
		logs.Close()
	}
	if err == nil && out != nil && (out.Status == "sent" || out.Status == "partial") {
		flushAfterSend(ctx, acct, req.flags.ConfigFile, stderr)
	}
	return report(req, stdout, out, err)
}

// report prints the outcome with --json and returns the error to exit
// with.
func report(req *sendRequest, stdout io.Writer, out *outcome, err error) error {
	if out != nil && err != nil {
		out.Error = errorOutcomeFor(err)
	}
	if req.json && out != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if jerr := enc.Encode(out); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// layerOptions gathers the layers for account.Resolve: the flag layer, the
// OUTBOX_* environment, and the terminal prompt (for every command,
// sendmail mode included).
func layerOptions(flags account.Layer, stderr io.Writer) (account.Options, error) {
	env, err := account.FromEnv(os.Getenv)
	if err != nil {
		return account.Options{}, err
	}
	return account.Options{Flags: flags, Env: env, Prompt: ttyPrompt, Stderr: stderr}, nil
}

// errorOutcomeFor describes err for --json.
func errorOutcomeFor(err error) *errorOutcome {
	e := &errorOutcome{Message: oneLine(err.Error())}
	var se *smtp.StageError
	if errors.As(err, &se) {
		e.Stage = se.Stage.String()
	}
	var smtpErr *smtp.Error
	if errors.As(err, &smtpErr) {
		e.Code, e.Enhanced = smtpErr.Code, smtpErr.Enhanced
	}
	e.Temporary = ExitCode(err) == ExitTempFail
	return e
}

// dryRun prints the envelope and the final message instead of sending.
func dryRun(w io.Writer, acct *account.Account, env *smtp.Envelope, body io.Reader) error {
	fmt.Fprintf(w, "Server: %s (tls %s)\n", acct.Address(), acct.TLS.Mode)
	fmt.Fprintf(w, "Envelope-From: <%s>\n", env.From.String())
	for _, r := range env.Recipients {
		fmt.Fprintf(w, "Envelope-To: <%s>\n", r.Address.String())
	}
	fmt.Fprintln(w)
	if _, err := io.Copy(w, body); err != nil {
		return &inputError{Path: "message", Err: err}
	}
	return nil
}
