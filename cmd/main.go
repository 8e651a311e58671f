// Package cmd is the outbox command line: it turns flags, environment and
// profiles into plain requests for the packages below it, and turns their
// results and errors into output and one exit code.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Main runs outbox with the given arguments and standard streams and
// returns the process exit code. It never calls os.Exit.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, version string) int {
	var err error
	switch invokedAs(args[0]) {
	case "sendmail":
		err = runSendmail(context.Background(), args[1:], stdin, stdout, stderr)
	case "mailq":
		err = runSendmail(context.Background(), append([]string{"-bp"}, args[1:]...), stdin, stdout, stderr)
	default:
		if len(args) == 2 && args[1] == "version" {
			// The common start-up probe, answered without building every
			// command's flags.
			if err := printVersion(stdout, resolveVersion(version)); err != nil {
				return ExitIOErr
			}
			return ExitOK
		}
		app := newApp(stdin, stdout, stderr, resolveVersion(version))
		err = app.Run(args)
	}
	if err == nil {
		return ExitOK
	}
	reportError(stderr, err)
	return ExitCode(err)
}

func newApp(stdin io.Reader, stdout, stderr io.Writer, version string) *cli.App {
	app := &cli.App{
		Name:                 "outbox",
		Usage:                "submit mail over SMTP, securely",
		Version:              version,
		HideVersion:          true, // the version command; -v is verbose
		Reader:               stdin,
		Writer:               stdout,
		ErrWriter:            stderr,
		EnableBashCompletion: true,
		// "Doe, Jane" <jane@example.org> is one address: never split
		// repeatable flags on commas.
		DisableSliceFlagSeparator: true,
		// Errors are printed once, by Main; cli must never exit the process.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &UsageError{Err: err}
		},
		CommandNotFound: func(c *cli.Context, name string) {},
		Commands: []*cli.Command{
			sendCommand(),
			sendmailCommand(),
			versionCommand(),
			completionCommand(),
			sinkCommand(),
			configCommand(),
			probeCommand(),
			queueCommand(),
		},
	}
	setUsageErrors("", app.Commands)
	app.Action = func(c *cli.Context) error {
		if c.Args().Present() {
			return &UsageError{Err: fmt.Errorf("unknown command %q", c.Args().First()), Hint: "run 'outbox --help' for the list of commands"}
		}
		return cli.ShowAppHelp(c)
	}
	return app
}

// setUsageErrors makes a flag mistake on any command a usage error (exit
// 64 with a hint) instead of urfave/cli's generic failure with the whole
// help text.
func setUsageErrors(prefix string, cmds []*cli.Command) {
	for _, c := range cmds {
		name := strings.TrimSpace(prefix + " " + c.Name)
		if c.OnUsageError == nil {
			flags := c.Flags
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				return flagUsageError(name, flags, err)
			}
		}
		setUsageErrors(name, c.Subcommands)
	}
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version of outbox",
		Action: func(c *cli.Context) error {
			return printVersion(c.App.Writer, c.App.Version)
		},
	}
}

// printVersion is the output of 'outbox version'.
func printVersion(w io.Writer, version string) error {
	_, err := fmt.Fprintf(w, "outbox %s\n", version)
	return err
}

// resolveVersion prefers the version set at link time, then the module
// version recorded by the Go toolchain.
func resolveVersion(v string) string {
	if v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// UsageError is a mistake on the command line: exit code 64.
type UsageError struct {
	Err  error
	Hint string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// hinter is implemented by errors that carry advice for the user.
type hinter interface{ hint() string }

func (e *UsageError) hint() string {
	if e.Hint != "" {
		return e.Hint
	}
	return "run 'outbox --help' for usage"
}

// reportError prints err once, as one line, with a hint when one applies.
func reportError(w io.Writer, err error) {
	fmt.Fprintf(w, "outbox: error: %s\n", oneLine(err.Error()))
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(w, "outbox: hint: %s\n", oneLine(hint))
	}
}

// exportedHinter is implemented by the typed errors of the packages below
// cmd (account, tlsconf) that know what the user can do about them.
type exportedHinter interface{ Hint() string }

// hintFor finds the advice for err: the outermost error in its chain that
// carries one.
func hintFor(err error) string {
	var h hinter
	if errors.As(err, &h) {
		if s := h.hint(); s != "" {
			return s
		}
	}
	var eh exportedHinter
	if errors.As(err, &eh) {
		return eh.Hint()
	}
	return protocolHint(err)
}

func oneLine(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '\n' || r == '\r' {
			r = ' '
		}
		out = append(out, r)
	}
	return string(out)
}
