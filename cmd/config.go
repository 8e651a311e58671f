package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/tlsconf"
	"github.com/urfave/cli/v2"
)

// Flags that choose an account and override its settings. Every command
// that submits mail takes them (append accountFlags() to its flags and call
// resolveAccount), and so does outbox config show. Their environment
// variables are the account.Env* constants.
const (
	flagAcctConfig            = "config"
	flagAcctAccount           = "account"
	flagAcctServer            = "server"
	flagAcctTLS               = "tls"
	flagAcctTLSCA             = "tls-ca"
	flagAcctTLSPin            = "tls-pin"
	flagAcctTLSClientCert     = "tls-client-cert"
	flagAcctTLSClientKey      = "tls-client-key"
	flagAcctUser              = "user"
	flagAcctPasswordEnv       = "password-env"
	flagAcctPasswordCommand   = "password-command"
	flagAcctPasswordFile      = "password-file"
	flagAcctAuth              = "auth"
	flagAcctAllowInsecureAuth = "allow-insecure-auth"
	flagAcctFrom              = "from"
	flagAcctDSNNotify         = "dsn-notify"
	flagAcctDSNReturn         = "dsn-return"
	flagAcctDSNEnvID          = "dsn-envid"
	flagAcctEHLO              = "ehlo"
	flagAcctTimeout           = "timeout"
	flagAcctPartial           = "partial"
)

// configFileFlag is -C/--config alone, for commands that only read the file.
func configFileFlag() cli.Flag {
	return &cli.StringFlag{Name: flagAcctConfig, Aliases: []string{"C"}, Usage: "read the configuration from `FILE` (default: $" + account.EnvConfig + ", ~/.config/outbox/config.toml, " + account.SystemConfigFile + ")"}
}

// accountFlags are the flags that choose and override an account.
func accountFlags() []cli.Flag {
	return []cli.Flag{
		configFileFlag(),
		&cli.StringFlag{Name: flagAcctAccount, Aliases: []string{"a"}, Usage: "use the account `NAME` from the configuration file"},
		&cli.StringFlag{Name: flagAcctServer, Aliases: []string{"S"}, Usage: "submit to `HOST[:PORT]` (port 587, or 465 with --tls implicit)"},
		&cli.StringFlag{Name: flagAcctTLS, Usage: "`MODE`: starttls (default), implicit (default on port 465) or none"},
		&cli.StringFlag{Name: flagAcctTLSCA, Usage: "trust the CA certificates in `FILE` instead of the system roots"},
		&cli.StringSliceFlag{Name: flagAcctTLSPin, Usage: "require the server certificate or key to have this SHA-256 `PIN` (repeatable)"},
		&cli.StringFlag{Name: flagAcctTLSClientCert, Usage: "present the client certificate in `FILE`"},
		&cli.StringFlag{Name: flagAcctTLSClientKey, Usage: "the private key of the client certificate, in `FILE`"},
		&cli.StringFlag{Name: flagAcctUser, Aliases: []string{"u"}, Usage: "authenticate as `USER`"},
		&cli.StringFlag{Name: flagAcctPasswordEnv, Usage: "read the password from the environment variable `NAME`"},
		&cli.StringFlag{Name: flagAcctPasswordCommand, Usage: "run `COMMAND` (no shell) and use the first line it prints as the password"},
		&cli.StringFlag{Name: flagAcctPasswordFile, Usage: "read the password from the first line of `FILE` (mode 600)"},
		&cli.StringFlag{Name: flagAcctAuth, Usage: "`MECHS`: auto, none, or MECH[,MECH...]"},
		&cli.BoolFlag{Name: flagAcctAllowInsecureAuth, Usage: "allow sending a password without TLS"},
		&cli.StringFlag{Name: flagAcctFrom, Aliases: []string{"f"}, Usage: "envelope sender `ADDRESS`; also picks the account whose from matches"},
		&cli.StringFlag{Name: flagAcctDSNNotify, Usage: "delivery notifications: never, or `WHEN` among success,failure,delay"},
		&cli.StringFlag{Name: flagAcctDSNReturn, Usage: "`WHAT` a bounce returns: full or headers"},
		&cli.StringFlag{Name: flagAcctDSNEnvID, Usage: "envelope `ID` for delivery notifications"},
		&cli.StringFlag{Name: flagAcctEHLO, Usage: "greet the server as `NAME`"},
		&cli.StringFlag{Name: flagAcctTimeout, Usage: "give up after `DURATION` (e.g. 30s, 5m)"},
		&cli.StringFlag{Name: flagAcctPartial, Usage: "when some recipients are refused: continue or abort (`POLICY`)"},
	}
}

// accountLayer turns the account flags of c into the flag layer.
func accountLayer(c *cli.Context) account.Layer {
	l := account.Layer{
		ConfigFile:      c.String(flagAcctConfig),
		Account:         c.String(flagAcctAccount),
		Server:          c.String(flagAcctServer),
		TLS:             c.String(flagAcctTLS),
		TLSCA:           c.String(flagAcctTLSCA),
		TLSPins:         c.StringSlice(flagAcctTLSPin),
		TLSClientCert:   c.String(flagAcctTLSClientCert),
		TLSClientKey:    c.String(flagAcctTLSClientKey),
		User:            c.String(flagAcctUser),
		PasswordEnv:     c.String(flagAcctPasswordEnv),
		PasswordCommand: c.String(flagAcctPasswordCommand),
		PasswordFile:    c.String(flagAcctPasswordFile),
		Auth:            c.String(flagAcctAuth),
		From:            c.String(flagAcctFrom),
		DSNNotify:       c.String(flagAcctDSNNotify),
		DSNReturn:       c.String(flagAcctDSNReturn),
		DSNEnvID:        c.String(flagAcctDSNEnvID),
		EHLOName:        c.String(flagAcctEHLO),
		Timeout:         c.String(flagAcctTimeout),
		OnPartialReject: c.String(flagAcctPartial),
	}
	if c.IsSet(flagAcctAllowInsecureAuth) {
		b := c.Bool(flagAcctAllowInsecureAuth)
		l.AllowInsecureAuth = &b
	}
	return l
}

// accountOptions gathers the layers for account.Resolve: flags from c, the
// OUTBOX_* environment, and the terminal prompt.
func accountOptions(c *cli.Context, flags account.Layer) (account.Options, error) {
	return layerOptions(flags, c.App.ErrWriter)
}

// resolveAccount resolves the account for a command that has accountFlags.
func resolveAccount(c *cli.Context) (*account.Account, error) {
	opts, err := accountOptions(c, accountLayer(c))
	if err != nil {
		return nil, err
	}
	return account.Resolve(opts)
}

// isConfigError reports whether err is a configuration mistake: exit code
// 78.
func isConfigError(err error) bool {
	var (
		ae *account.Error
		fe *tlsconf.FileError
	)
	return errors.As(err, &ae) || errors.As(err, &fe) || errors.Is(err, tlsconf.ErrNoServerName) || errors.Is(err, errNoConfigFile{})
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "check, show or create the configuration file",
		Description: "Settings come from the configuration file, then OUTBOX_* environment variables,\n" +
			"then flags: a flag beats a variable, a variable beats the file.",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "load the configuration file and report the first mistake in it",
				ArgsUsage: " ",
				Flags:     []cli.Flag{configFileFlag()},
				Action: func(c *cli.Context) error {
					if c.Args().Present() {
						return &UsageError{Err: fmt.Errorf("unexpected argument %q", c.Args().First())}
					}
					return configCheck(c, c.App.Writer)
				},
			},
			{
				Name:      "show",
				Usage:     "print the settings an account resolves to, and where each comes from",
				ArgsUsage: " ",
				Flags:     accountFlags(),
				Action: func(c *cli.Context) error {
					if c.Args().Present() {
						return &UsageError{Err: fmt.Errorf("unexpected argument %q", c.Args().First())}
					}
					return configShow(c, c.App.Writer)
				},
			},
			{
				Name:      "example",
				Usage:     "print an annotated example configuration file",
				ArgsUsage: " ",
				Action: func(c *cli.Context) error {
					_, err := io.WriteString(c.App.Writer, account.Example)
					return err
				},
			},
		},
	}
}

// errNoConfigFile is a config check without a file to check.
type errNoConfigFile struct{}

func (errNoConfigFile) Error() string {
	return "no configuration file found (looked at $" + account.EnvConfig + ", $" + account.EnvXDGConfigHome + "/outbox/config.toml or ~/.config/outbox/config.toml, and " + account.SystemConfigFile + ")"
}

func (errNoConfigFile) Hint() string {
	return "create one with 'outbox config example > ~/.config/outbox/config.toml', then edit it"
}

func configCheck(c *cli.Context, w io.Writer) error {
	opts, err := accountOptions(c, account.Layer{ConfigFile: c.String(flagAcctConfig)})
	if err != nil {
		return err
	}
	cfg, err := account.LoadFor(opts)
	if err != nil {
		return err
	}
	if cfg == nil {
		return errNoConfigFile{}
	}
	// Load checked every value; also load the files each account names.
	names := cfg.Accounts()
	for _, name := range names {
		o := opts
		o.Flags = account.Layer{Account: name}
		o.Env = account.Layer{}
		a, err := cfg.Resolve(o)
		var ae *account.Error
		if errors.As(err, &ae) && ae.Kind == account.ErrNoServer {
			fmt.Fprintf(c.App.ErrWriter, "outbox: warning: account %s has no host; using it needs -S/--server\n", name)
			continue
		}
		if err != nil {
			return fmt.Errorf("account %s: %w", name, err)
		}
		if _, err := a.TLS.Config(); err != nil {
			return fmt.Errorf("account %s: %w", name, err)
		}
	}
	summary := fmt.Sprintf("%s: ok, %d account", cfg.Path, len(names))
	if len(names) != 1 {
		summary += "s"
	}
	if len(names) > 0 {
		summary += " (" + strings.Join(names, ", ") + ")"
	}
	if cfg.DefaultAccount != "" {
		summary += ", default " + cfg.DefaultAccount
	}
	_, err = fmt.Fprintln(w, summary)
	return err
}

func configShow(c *cli.Context, w io.Writer) error {
	opts, err := accountOptions(c, accountLayer(c))
	if err != nil {
		return err
	}
	// Showing must not ask for anything.
	opts.Prompt = nil
	a, err := account.Resolve(opts)
	if err != nil {
		return err
	}
	var b strings.Builder
	switch {
	case a.Name != "":
		fmt.Fprintf(&b, "# account %s from %s\n", a.Name, a.ConfigFile)
	case a.ConfigFile != "":
		fmt.Fprintf(&b, "# no account; [defaults] from %s\n", a.ConfigFile)
	default:
		fmt.Fprintf(&b, "# no configuration file\n")
	}
	settings := a.Settings()
	width := 0
	for _, s := range settings {
		width = max(width, len(s.Key)+len(s.Value)+3)
	}
	for _, s := range settings {
		line := s.Key + " = " + s.Value
		fmt.Fprintf(&b, "%-*s  # %s\n", width, line, s.Origin)
	}
	switch {
	case a.Auth.Disabled:
		fmt.Fprintf(&b, "# authentication: none\n")
	case a.Auth.OAuth2 != nil:
		fmt.Fprintf(&b, "# authentication: OAuth2 token from %s\n", a.Auth.OAuth2.Source)
	case a.Auth.Password != nil:
		fmt.Fprintf(&b, "# authentication: password from %s (not fetched)\n", a.Auth.PasswordSource)
	case a.Auth.User != "":
		fmt.Fprintf(&b, "# authentication: no password source; outbox will ask on the terminal\n")
	default:
		fmt.Fprintf(&b, "# authentication: none configured\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}
