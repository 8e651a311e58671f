package cmd

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/urfave/cli/v2"
)

// invokedAs reports which name outbox was run under, for the sendmail
// compatibility names: a symlink named sendmail (or mailq) makes outbox
// behave as sendmail.
func invokedAs(arg0 string) string {
	name := strings.ToLower(filepath.Base(arg0))
	name = strings.TrimSuffix(name, ".exe")
	return name
}

// sendmailCommand is "outbox sendmail ARGS": sendmail mode without a
// symlink. Its options are sendmail's, parsed by parseSendmailArgs.
func sendmailCommand() *cli.Command {
	return &cli.Command{
		Name:            "sendmail",
		Usage:           "behave as sendmail: read a message on standard input and submit it",
		ArgsUsage:       "[-t] [-i] [-f SENDER] [-F NAME] [options] [--] [RECIPIENT...]",
		SkipFlagParsing: true,
		Description: "Sendmail mode, also used when outbox runs as a symlink named sendmail:\n" +
			"  -t        take recipients from To, Cc and Bcc (Bcc is stripped)\n" +
			"  -i, -oi   a line with a single dot does not end the message\n" +
			"  -f ADDR   envelope sender (also -r)    -F NAME  full name for an added From\n" +
			"  -N DSN    never, or success,failure,delay    -R full|hdrs    -V ENVID\n" +
			"  -B 8BITMIME|7BIT    -C FILE configuration    -v transcript\n" +
			"  -bp       print the queue (as mailq)    -q   send every queued message now\n" +
			"  -odq      only queue the message        -bs  (not supported: exits 64)\n" +
			"  -oem -oee -odi -odb -bm -L -h -m -n -G -U -Am -Ac -O -oX are accepted and ignored",
		Action: func(c *cli.Context) error {
			// "outbox sendmail --help" asks outbox, like every other
			// command's --help; sendmail itself (a symlink) has none.
			if c.Args().Len() == 1 && c.Args().First() == "--help" {
				cli.HelpPrinter(c.App.Writer, cli.CommandHelpTemplate, c.Command)
				return nil
			}
			return runSendmail(c.Context, c.Args().Slice(), c.App.Reader, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// runSendmail runs a sendmail command line.
func runSendmail(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for _, a := range args {
		if a == "--help" || a == "-help" {
			return &UsageError{Err: fmt.Errorf("sendmail mode has no --help"), Hint: "see 'outbox help sendmail' or the outbox(1) man page"}
		}
	}
	a, err := parseSendmailArgs(args)
	if err != nil {
		return err
	}
	loc := queueLocation{configFile: a.Config}
	switch a.Mode {
	case modePrintQueue:
		q, err := loc.open(stderr, false, nil)
		if err != nil {
			return err
		}
		es, err := allEntries(q)
		if err != nil {
			return err
		}
		printMailq(stdout, es)
		return nil
	case modeFlushQueue:
		// As Postfix's sendmail -q: every queued message, now; an
		// interval (-q30m) starts no daemon and is ignored.
		return runQueueFlush(ctx, flushRequest{loc: loc, all: true, wait: true, verbose: a.Verbose}, stdout, stderr)
	case modeSMTPStdio:
		return &UsageError{
			Err:  fmt.Errorf("sendmail -bs (SMTP on standard input) is not supported"),
			Hint: "outbox submits to a server; pipe the message to 'sendmail -t -i' instead",
		}
	}
	req := &sendRequest{
		recipients:     a.Recipients,
		readRecipients: a.ReadRecipients,
		ignoreDots:     a.IgnoreDots,
		fullName:       a.FullName,
		verbose:        a.Verbose,
		// A cron job or a daemon has no one to retry: keep the message when
		// the server cannot take it now.
		defaultQueue: account.QueueAuto,
	}
	if slices.Contains(a.Ignored, "-odq") {
		// Sendmail's "queue only" delivery mode.
		req.flags.Queue = string(account.QueueAlways)
	}
	req.flags.ConfigFile = a.Config
	req.flags.From = a.From
	req.flags.DSNNotify = a.DSNNotify
	req.flags.DSNReturn = a.DSNReturn
	req.flags.DSNEnvID = a.DSNEnvID
	switch a.Body {
	case "8BITMIME":
		req.body = smtp.Body8BitMIME
	case "7BIT":
		req.body = smtp.Body7Bit
	}
	if !a.ReadRecipients && len(a.Recipients) == 0 {
		return &UsageError{Err: fmt.Errorf("sendmail: no recipients"), Hint: "name recipients on the command line, or use -t to read them from the message"}
	}
	return runSend(ctx, req, stdin, stdout, stderr)
}
