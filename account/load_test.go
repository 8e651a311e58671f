package account_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/tlsconf"
)

// TestMain lets the test binary serve as a fake password command:
// "account.test fake-command print WORD" prints WORD and exits.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "fake-command" {
		switch os.Args[2] {
		case "print":
			fmt.Println(strings.Join(os.Args[3:], " "))
			fmt.Println("second line is ignored")
			os.Exit(0)
		case "silent":
			os.Exit(0)
		case "fail":
			fmt.Fprintln(os.Stderr, "fake-command: no such entry")
			os.Exit(3)
		}
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// fakeCommand returns a TOML list running the fake command.
func fakeCommand(t *testing.T, args ...string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	q := []string{fmt.Sprintf("%q", exe), `"fake-command"`}
	for _, a := range args {
		q = append(q, fmt.Sprintf("%q", a))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func writeConfig(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func getenv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// resolve resolves with the file at path as -C/--config.
func resolve(t *testing.T, path string, flags, env account.Layer, vars map[string]string) (*account.Account, error) {
	t.Helper()
	flags.ConfigFile = path
	return account.Resolve(account.Options{Flags: flags, Env: env, Getenv: getenv(vars), SystemConfig: filepath.Join(t.TempDir(), "none.toml")})
}

func mustResolve(t *testing.T, path string, flags, env account.Layer, vars map[string]string) *account.Account {
	t.Helper()
	a, err := resolve(t, path, flags, env, vars)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return a
}

const sample = `
default_account = "work"

[defaults]
tls_min_version = "1.3"
timeout = "2m"
on_partial_reject = "abort"

[accounts.work]
host = "smtp.example.com"
user = "alice"
from = "alice@example.com"
password_env = "WORK_PW"
dsn_notify = "failure,delay"

[accounts.lists]
extends = "work"
from = "alice+*@example.com"
port = 2525

[accounts.any]
extends = "lists"
from = "*@example.com"
password_file = "pw.txt"

[accounts.personal]
host = "mail.example.org"
port = 465
from = "*@example.org"
add_date = false
`

func TestLoadAndInherit(t *testing.T) {
	path := writeConfig(t, sample, 0o644)
	c, err := account.Load(path, getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Accounts(), ","); got != "any,lists,personal,work" {
		t.Errorf("accounts = %s", got)
	}
	if c.DefaultAccount != "work" {
		t.Errorf("default = %q", c.DefaultAccount)
	}

	tests := []struct {
		account string
		check   func(t *testing.T, a *account.Account)
	}{
		{"work", func(t *testing.T, a *account.Account) {
			if a.Host != "smtp.example.com" || a.Port != 587 || a.TLS.Mode != tlsconf.ModeStartTLS {
				t.Errorf("server = %s %v", a.Address(), a.TLS.Mode)
			}
			if a.TLS.ServerName != "smtp.example.com" || a.TLS.MinVersion != 0x0304 {
				t.Errorf("TLS = %+v", a.TLS)
			}
			if a.Timeout != 2*time.Minute || a.OnPartialReject != account.PartialAbort {
				t.Errorf("defaults not inherited: %v %v", a.Timeout, a.OnPartialReject)
			}
			if a.From != "alice@example.com" || a.FromPattern != "" {
				t.Errorf("from = %q pattern %q", a.From, a.FromPattern)
			}
			if strings.Join(a.DSN.Notify, ",") != "failure,delay" {
				t.Errorf("dsn = %+v", a.DSN)
			}
			if !a.AddHeaders.Date || !a.AddHeaders.MessageID || !a.AddHeaders.From {
				t.Errorf("headers = %+v", a.AddHeaders)
			}
			if a.Auth.PasswordSource != "$WORK_PW" || a.Auth.User != "alice" {
				t.Errorf("auth = %+v", a.Auth)
			}
		}},
		{"lists", func(t *testing.T, a *account.Account) {
			if a.Host != "smtp.example.com" || a.Port != 2525 || a.Auth.User != "alice" || a.Auth.PasswordSource != "$WORK_PW" {
				t.Errorf("not inherited from work: %s %+v", a.Address(), a.Auth)
			}
			if a.From != "" || a.FromPattern != "alice+*@example.com" {
				t.Errorf("from = %q pattern %q", a.From, a.FromPattern)
			}
			if a.Timeout != 2*time.Minute {
				t.Errorf("defaults not inherited through extends")
			}
			if !strings.HasSuffix(a.Origin("port"), ":19:8") || !strings.HasSuffix(a.Origin("host"), ":10:8") {
				t.Errorf("origins: port %s, host %s", a.Origin("port"), a.Origin("host"))
			}
		}},
		{"any", func(t *testing.T, a *account.Account) {
			// password_file hides the inherited password_env.
			want := "file " + filepath.Join(filepath.Dir(path), "pw.txt")
			if a.Auth.PasswordSource != want || a.Port != 2525 {
				t.Errorf("source = %q, want %q; port %d", a.Auth.PasswordSource, want, a.Port)
			}
		}},
		{"personal", func(t *testing.T, a *account.Account) {
			if a.Port != 465 || a.TLS.Mode != tlsconf.ModeImplicit || a.Origin("tls") != "default" {
				t.Errorf("port 465 must default to implicit TLS: %d %v (%s)", a.Port, a.TLS.Mode, a.Origin("tls"))
			}
			if a.AddHeaders.Date || a.Auth.Password != nil {
				t.Errorf("headers %+v, password source %q", a.AddHeaders, a.Auth.PasswordSource)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.account, func(t *testing.T) {
			tt.check(t, mustResolve(t, path, account.Layer{Account: tt.account}, account.Layer{}, nil))
		})
	}
}

func TestChooseAccount(t *testing.T) {
	path := writeConfig(t, sample, 0o644)
	tests := []struct {
		flags, env account.Layer
		want       string
	}{
		{account.Layer{}, account.Layer{}, "work"},
		{account.Layer{Account: "personal"}, account.Layer{}, "personal"},
		{account.Layer{}, account.Layer{Account: "personal"}, "personal"},
		{account.Layer{Account: "lists"}, account.Layer{Account: "personal"}, "lists"},
		{account.Layer{From: "alice@example.com"}, account.Layer{}, "work"},
		{account.Layer{From: "ALICE@Example.COM"}, account.Layer{}, "work"},
		{account.Layer{From: "alice+news@example.com"}, account.Layer{}, "lists"},
		{account.Layer{From: "bob@example.com"}, account.Layer{}, "any"},
		{account.Layer{From: "bob@example.org"}, account.Layer{}, "personal"},
		{account.Layer{}, account.Layer{From: "bob@example.org"}, "personal"},
		{account.Layer{From: "bob@elsewhere.test"}, account.Layer{}, "work"},
		// -a beats the sender.
		{account.Layer{Account: "work", From: "bob@example.org"}, account.Layer{}, "work"},
	}
	for _, tt := range tests {
		a := mustResolve(t, path, tt.flags, tt.env, nil)
		if a.Name != tt.want {
			t.Errorf("flags %+v env %+v: account %q, want %q", tt.flags, tt.env, a.Name, tt.want)
		}
	}
	a := mustResolve(t, path, account.Layer{From: "bob@example.org"}, account.Layer{}, nil)
	if a.From != "bob@example.org" || a.FromPattern != "*@example.org" {
		t.Errorf("sender %q pattern %q", a.From, a.FromPattern)
	}
}

func TestChooseAccountWithoutDefault(t *testing.T) {
	two := `
[accounts.a]
host = "a.example"
from = "*@example.com"
[accounts.b]
host = "b.example"
from = "*@example.com"
`
	path := writeConfig(t, two, 0o600)
	_, err := resolve(t, path, account.Layer{}, account.Layer{}, nil)
	wantKind(t, err, account.ErrNoAccount)
	_, err = resolve(t, path, account.Layer{From: "x@example.com"}, account.Layer{}, nil)
	wantKind(t, err, account.ErrNoAccount)
	if a := mustResolve(t, path, account.Layer{Server: "flag.example"}, account.Layer{}, nil); a.Name != "" || a.Host != "flag.example" {
		t.Errorf("with a server flag: account %q host %q", a.Name, a.Host)
	}
	one := writeConfig(t, "[accounts.only]\nhost = \"only.example\"\n", 0o600)
	if a := mustResolve(t, one, account.Layer{}, account.Layer{}, nil); a.Name != "only" {
		t.Errorf("single account not chosen: %q", a.Name)
	}
}

func wantKind(t *testing.T, err error, kind account.ErrorKind) *account.Error {
	t.Helper()
	var e *account.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *account.Error of kind %v", err, err, kind)
	}
	if e.Kind != kind {
		t.Fatalf("kind = %v, want %v (%v)", e.Kind, kind, err)
	}
	return e
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name       string
		content    string
		kind       account.ErrorKind
		line, col  int
		key        string
		suggestion string
		msg        string
	}{
		{"syntax", "[accounts.a]\nhost = \n", account.ErrSyntax, 2, 8, "", "", ""},
		{"unknown top key", "[account.a]\nhost = \"x\"\n", account.ErrUnknownKey, 1, 2, "account", "accounts", ""},
		{"unknown account key", "[accounts.a]\nhost = \"x\"\nhots = \"y\"\n", account.ErrUnknownKey, 3, 1, "accounts.a.hots", "host", ""},
		{"unknown defaults key", "[defaults]\npasword_command = [\"x\"]\n", account.ErrUnknownKey, 2, 1, "defaults.pasword_command", "password_command", ""},
		{"unknown oauth2 key", "[accounts.a]\n[accounts.a.oauth2]\ntoken_ulr = \"https://x\"\n", account.ErrUnknownKey, 3, 1, "accounts.a.oauth2.token_ulr", "token_url", ""},
		{"unknown table", "[accounts.a]\n[accounts.a.oath2]\n", account.ErrUnknownKey, 2, 2, "accounts.a.oath2", "oauth2", ""},
		{"port type", "[accounts.a]\nport = \"587\"\n", account.ErrType, 2, 8, "accounts.a.port", "", "expected an integer, found a TOML string"},
		{"host type", "[accounts.a]\nhost = 1\n", account.ErrType, 2, 8, "accounts.a.host", "", "expected a string"},
		{"command type", "[accounts.a]\npassword_command = \"pass show x\"\n", account.ErrType, 2, 20, "accounts.a.password_command", "", "expected a list of strings"},
		{"pin type", "[accounts.a]\ntls_pin = 5\n", account.ErrType, 2, 11, "accounts.a.tls_pin", "", "an integer"},
		{"duplicate key", "[accounts.a]\nport = 1\nport = 2\n", account.ErrSyntax, 3, 1, "", "", "already defined"},
		{"bad tls", "[accounts.a]\nhost = \"x\"\ntls = \"startls\"\n", account.ErrValue, 3, 7, "accounts.a.tls", "starttls", "unknown TLS mode"},
		{"bad port", "[accounts.a]\nport = 70000\n", account.ErrValue, 2, 8, "accounts.a.port", "", "out of range"},
		{"bad timeout", "[defaults]\ntimeout = \"30\"\n", account.ErrValue, 2, 11, "defaults.timeout", "", "invalid duration"},
		{"bad pin", "[accounts.a]\ntls_pin = [\"sha256/abc\"]\n", account.ErrValue, 2, 1, "accounts.a.tls_pin", "", "invalid pin"},
		{"bad min version", "[accounts.a]\ntls_min_version = \"1.4\"\n", account.ErrValue, 2, 19, "accounts.a.tls_min_version", "", "unknown TLS version"},
		{"bad auth", "[accounts.a]\nauth = [\"SCRAM-SHA256\"]\n", account.ErrValue, 2, 1, "accounts.a.auth", "SCRAM-SHA-256", "unknown mechanism"},
		{"bad queue", "[defaults]\nqueue = \"alwyas\"\n", account.ErrValue, 2, 9, "defaults.queue", "always", "want auto, always or never"},
		{"queue type", "[defaults]\nflush_after_send = \"yes\"\n", account.ErrType, 2, 20, "defaults.flush_after_send", "", "expected true or false"},
		{"bad partial", "[accounts.a]\non_partial_reject = \"abrot\"\n", account.ErrValue, 2, 21, "accounts.a.on_partial_reject", "abort", ""},
		{"bad dsn", "[accounts.a]\ndsn_notify = \"failure,never\"\n", account.ErrValue, 2, 14, "accounts.a.dsn_notify", "", "never cannot be combined"},
		{"bad dsn return", "[accounts.a]\ndsn_return = \"body\"\n", account.ErrValue, 2, 14, "accounts.a.dsn_return", "", ""},
		{"bad from", "[accounts.a]\nfrom = \"*example.com\"\n", account.ErrValue, 2, 8, "accounts.a.from", "", "no @domain"},
		{"two password sources", "[accounts.a]\npassword_env = \"X\"\npassword_file = \"/x\"\n", account.ErrValue, 3, 17, "accounts.a.password_file", "", "both set"},
		{"empty command", "[accounts.a]\npassword_command = []\n", account.ErrValue, 2, 1, "accounts.a.password_command", "", "empty command"},
		{"unknown parent", "[accounts.a]\nextends = \"wrok\"\n[accounts.work]\n", account.ErrUnknownAccount, 2, 11, "accounts.a.extends", "work", ""},
		{"cycle", "[accounts.a]\nextends = \"b\"\n[accounts.b]\nextends = \"a\"\n", account.ErrCycle, 4, 11, "accounts.b.extends", "", "a -> b -> a"},
		{"defaults extends", "[defaults]\nextends = \"a\"\n[accounts.a]\n", account.ErrValue, 2, 11, "defaults.extends", "", ""},
		{"unknown default", "default_account = \"wrk\"\n[accounts.work]\n", account.ErrUnknownAccount, 1, 19, "default_account", "work", ""},
		{"undefined variable", "[accounts.a]\nhost = \"${NOPE}.example\"\n", account.ErrUndefinedVariable, 2, 8, "accounts.a.host", "", "NOPE is not set"},
		{"bad oauth2", "[accounts.a]\n[accounts.a.oauth2]\nclient_id = \"x\"\n", account.ErrValue, 2, 2, "accounts.a.oauth2", "", "[oauth2] needs"},
		{"oauth2 http", "[accounts.a]\n[accounts.a.oauth2]\ntoken_url = \"http://idp.example/token\"\nclient_id = \"x\"\nrefresh_token_env = \"RT\"\n", account.ErrValue, 3, 13, "accounts.a.oauth2.token_url", "", "https://"},
		{"oauth2 no refresh token", "[accounts.a]\n[accounts.a.oauth2]\ntoken_url = \"https://idp.example/token\"\nclient_id = \"x\"\n", account.ErrValue, 3, 13, "accounts.a.oauth2.token_url", "", "needs a refresh token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.content, 0o600)
			_, err := account.Load(path, getenv(nil))
			e := wantKind(t, err, tt.kind)
			if e.File != path || e.Line != tt.line || e.Column != tt.col {
				t.Errorf("position = %s:%d:%d, want line %d column %d (%v)", e.File, e.Line, e.Column, tt.line, tt.col, err)
			}
			if e.Key != tt.key || e.Suggestion != tt.suggestion {
				t.Errorf("key %q suggestion %q, want %q %q (%v)", e.Key, e.Suggestion, tt.key, tt.suggestion, err)
			}
			if !strings.Contains(e.Error(), tt.msg) {
				t.Errorf("message %q lacks %q", e.Error(), tt.msg)
			}
			prefix := fmt.Sprintf("%s:%d:%d: ", path, tt.line, tt.col)
			if !strings.HasPrefix(e.Error(), prefix) {
				t.Errorf("message %q does not start with %q", e.Error(), prefix)
			}
			if tt.suggestion != "" && !strings.Contains(e.Error(), fmt.Sprintf("did you mean %q?", tt.suggestion)) {
				t.Errorf("message %q lacks the suggestion", e.Error())
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	secret := "[accounts.a]\nhost = \"x\"\npassword = \"hunter2\"\n"
	oauthSecret := "[accounts.a]\nhost = \"x\"\n[accounts.a.oauth2]\ntoken_url = \"https://idp.example/t\"\nclient_id = \"c\"\nrefresh_token = \"r\"\n"
	noSecret := "[accounts.a]\nhost = \"x\"\npassword_env = \"PW\"\n"
	tests := []struct {
		content string
		mode    os.FileMode
		ok      bool
	}{
		{secret, 0o600, true},
		{secret, 0o400, true},
		{secret, 0o640, false},
		{secret, 0o604, false},
		{secret, 0o620, false},
		{oauthSecret, 0o644, false},
		{oauthSecret, 0o600, true},
		{noSecret, 0o644, true},
	}
	for _, tt := range tests {
		path := writeConfig(t, tt.content, tt.mode)
		_, err := account.Load(path, getenv(nil))
		if tt.ok {
			if err != nil {
				t.Errorf("mode %o: %v", tt.mode, err)
			}
			continue
		}
		e := wantKind(t, err, account.ErrPermissions)
		if e.Hint() != "chmod 600 "+path || !strings.Contains(e.Error(), "holds a secret") {
			t.Errorf("mode %o: %v; hint %q", tt.mode, err, e.Hint())
		}
	}
}

func TestExpansion(t *testing.T) {
	vars := map[string]string{"DOMAIN": "example.net", "HOME": "/home/alice", "U": "bob"}
	path := writeConfig(t, `
[accounts.a]
host = "smtp.${DOMAIN}"
user = "${U}@${DOMAIN}"
ehlo_name = "literal$${DOMAIN}and$dollar"
tls_ca = "~/ca.pem"
tls_client_cert = "certs/client.pem"
tls_client_key = "/abs/client.key"
password_command = ["lookup", "${U}"]
`, 0o600)
	a := mustResolve(t, path, account.Layer{}, account.Layer{}, vars)
	dir := filepath.Dir(path)
	checks := []struct{ got, want string }{
		{a.Host, "smtp.example.net"},
		{a.Auth.User, "bob@example.net"},
		{a.EHLOName, "literal${DOMAIN}and$dollar"},
		{a.TLS.CAFile, "/home/alice/ca.pem"},
		{a.TLS.ClientCertFile, filepath.Join(dir, "certs/client.pem")},
		{a.TLS.ClientKeyFile, "/abs/client.key"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var cmd string
	for _, s := range a.Settings() {
		if s.Key == "password_command" {
			cmd = s.Value
		}
	}
	if cmd != `["lookup", "bob"]` {
		t.Errorf("password_command = %s", cmd)
	}
}

func TestExample(t *testing.T) {
	path := writeConfig(t, account.Example, 0o644)
	c, err := account.Load(path, getenv(map[string]string{"HOME": "/home/alice"}))
	if err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	if len(c.Accounts()) < 4 || c.DefaultAccount == "" {
		t.Fatalf("example accounts: %v, default %q", c.Accounts(), c.DefaultAccount)
	}
	for _, name := range c.Accounts() {
		if _, err := resolve(t, path, account.Layer{Account: name}, account.Layer{}, map[string]string{"HOME": "/home/alice"}); err != nil {
			t.Errorf("account %s: %v", name, err)
		}
	}
	a := mustResolve(t, path, account.Layer{Account: "gmail"}, account.Layer{}, map[string]string{"HOME": "/home/alice"})
	if a.Auth.OAuth2 == nil || a.Auth.OAuth2.Source != "token_url" {
		t.Errorf("gmail oauth2 = %+v", a.Auth.OAuth2)
	}
	if a.Queue != account.QueueAuto || !a.FlushAfterSend || !a.NotifyFailures || a.QueueDir != "" {
		t.Errorf("gmail queue settings = %q %q flush %v notify %v", a.Queue, a.QueueDir, a.FlushAfterSend, a.NotifyFailures)
	}
	relay := mustResolve(t, path, account.Layer{Account: "relay"}, account.Layer{}, map[string]string{"HOME": "/home/alice"})
	if relay.LogFile != "/home/alice/.local/state/outbox/relay.log" || relay.Syslog {
		t.Errorf("relay log = %q syslog %v", relay.LogFile, relay.Syslog)
	}
}

// TestQueueSettings: queue, queue_dir, flush_after_send and notify_failures
// have defaults, inherit, and are overridden by the environment and flags.
func TestQueueSettings(t *testing.T) {
	path := writeConfig(t, `
default_account = "work"
[defaults]
queue = "Always"
queue_dir = "spool"
notify_failures = true
[accounts.work]
host = "smtp.example.com"
[accounts.cron]
host = "relay.example.com"
queue = "never"
flush_after_send = false
`, 0o600)
	a := mustResolve(t, path, account.Layer{}, account.Layer{}, nil)
	if a.Queue != account.QueueAlways || a.QueueDir != filepath.Join(filepath.Dir(path), "spool") || !a.FlushAfterSend || !a.NotifyFailures {
		t.Errorf("work: queue %q dir %q flush %v notify %v", a.Queue, a.QueueDir, a.FlushAfterSend, a.NotifyFailures)
	}
	if a.Origin("queue_dir") != path+":5:13" {
		t.Errorf("queue_dir origin = %q", a.Origin("queue_dir"))
	}
	c := mustResolve(t, path, account.Layer{Account: "cron"}, account.Layer{}, nil)
	if c.Queue != account.QueueNever || c.FlushAfterSend {
		t.Errorf("cron: queue %q flush %v", c.Queue, c.FlushAfterSend)
	}

	env, err := account.FromEnv(getenv(map[string]string{
		"OUTBOX_QUEUE": "auto", "OUTBOX_QUEUE_DIR": "/var/spool/q", "OUTBOX_FLUSH_AFTER_SEND": "off", "OUTBOX_NOTIFY_FAILURES": "no",
	}))
	if err != nil {
		t.Fatal(err)
	}
	e := mustResolve(t, path, account.Layer{}, env, nil)
	if e.Queue != account.QueueAuto || e.QueueDir != "/var/spool/q" || e.FlushAfterSend || e.NotifyFailures {
		t.Errorf("env: queue %q dir %q flush %v notify %v", e.Queue, e.QueueDir, e.FlushAfterSend, e.NotifyFailures)
	}
	if e.Origin("queue") != "environment variable OUTBOX_QUEUE" {
		t.Errorf("queue origin = %q", e.Origin("queue"))
	}
	f := mustResolve(t, path, account.Layer{Queue: "never", QueueDir: "/tmp/q"}, env, nil)
	if f.Queue != account.QueueNever || f.QueueDir != "/tmp/q" || f.Origin("queue") != "flag --queue" {
		t.Errorf("flags: queue %q dir %q origin %q", f.Queue, f.QueueDir, f.Origin("queue"))
	}

	_, err = resolve(t, path, account.Layer{Queue: "later"}, account.Layer{}, nil)
	if e := wantKind(t, err, account.ErrValue); e.Source != "--queue" || !strings.Contains(e.Error(), "want auto, always or never") {
		t.Errorf("bad --queue: %v (source %q)", err, e.Source)
	}
	if _, err := account.FromEnv(getenv(map[string]string{"OUTBOX_FLUSH_AFTER_SEND": "maybe"})); err == nil {
		t.Error("OUTBOX_FLUSH_AFTER_SEND=maybe accepted")
	}

	// Unset, queue is "": the command decides.
	none := writeConfig(t, "[accounts.a]\nhost = \"x.example\"\n", 0o600)
	if a := mustResolve(t, none, account.Layer{}, account.Layer{}, nil); a.Queue != "" || !a.FlushAfterSend || a.NotifyFailures {
		t.Errorf("defaults: queue %q flush %v notify %v", a.Queue, a.FlushAfterSend, a.NotifyFailures)
	}
}

// TestResolveLocal: the queue commands need no server, and fall back to
// [defaults] when no account is picked.
func TestResolveLocal(t *testing.T) {
	path := writeConfig(t, `
[defaults]
queue_dir = "/srv/queue"
[accounts.a]
host = "a.example"
[accounts.b]
queue_dir = "/srv/b"
`, 0o600)
	opts := func(flags account.Layer) account.Options {
		flags.ConfigFile = path
		return account.Options{Flags: flags, Getenv: getenv(nil), SystemConfig: filepath.Join(t.TempDir(), "none.toml")}
	}
	a, err := account.ResolveLocal(opts(account.Layer{}))
	if err != nil || a.QueueDir != "/srv/queue" || a.Name != "" {
		t.Fatalf("no account: %+v, %v", a, err)
	}
	if a, err := account.ResolveLocal(opts(account.Layer{Account: "b"})); err != nil || a.QueueDir != "/srv/b" || a.Host != "" {
		t.Errorf("b: %+v, %v", a, err)
	}
	if _, err := account.Resolve(opts(account.Layer{Account: "b"})); err == nil {
		t.Error("Resolve accepted an account without a server")
	}
	_, err = account.ResolveLocal(opts(account.Layer{Account: "c"}))
	wantKind(t, err, account.ErrUnknownAccount)
	vars := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	if a, err := account.ResolveLocal(account.Options{Getenv: getenv(vars), SystemConfig: filepath.Join(t.TempDir(), "none.toml")}); err != nil || a.QueueDir != "" {
		t.Errorf("no file: %+v, %v", a, err)
	}
}

func TestNoFile(t *testing.T) {
	vars := map[string]string{"XDG_CONFIG_HOME": t.TempDir()}
	opts := account.Options{Getenv: getenv(vars), SystemConfig: filepath.Join(t.TempDir(), "none.toml")}
	_, err := account.Resolve(opts)
	e := wantKind(t, err, account.ErrNoServer)
	if !strings.Contains(e.Hint(), "-S/--server") {
		t.Errorf("hint = %q", e.Hint())
	}

	env, err := account.FromEnv(getenv(map[string]string{
		"OUTBOX_SERVER": "smtp.ci.example:2525", "OUTBOX_USER": "ci", "OUTBOX_PASSWORD": "s3cret",
		"OUTBOX_FROM": "ci@ci.example", "OUTBOX_TLS": "implicit", "OUTBOX_TLS_PIN": "sha256:" + strings.Repeat("ab", 32),
		"OUTBOX_ALLOW_INSECURE_AUTH": "no", "OUTBOX_DSN_NOTIFY": "success",
	}))
	if err != nil {
		t.Fatal(err)
	}
	opts.Env = env
	a, err := account.Resolve(opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Address() != "smtp.ci.example:2525" || a.TLS.Mode != tlsconf.ModeImplicit || a.From != "ci@ci.example" || len(a.TLS.Pins) != 1 || a.Name != "" {
		t.Errorf("account = %+v", a)
	}
	if pw, err := a.Auth.Password(context.Background()); pw != "s3cret" || err != nil {
		t.Errorf("password = %q, %v", pw, err)
	}
	if a.Origin("host") != "environment variable OUTBOX_SERVER" {
		t.Errorf("origin = %q", a.Origin("host"))
	}
	for _, s := range a.Settings() {
		if s.Key == "password" && s.Value != `"***"` {
			t.Errorf("password shown as %s", s.Value)
		}
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("secret leaked in %+v", s)
		}
	}

	// The file search: XDG_CONFIG_HOME, then HOME/.config, then the system file.
	xdg := t.TempDir()
	os.MkdirAll(filepath.Join(xdg, "outbox"), 0o700)
	os.WriteFile(filepath.Join(xdg, "outbox", "config.toml"), []byte("[accounts.x]\nhost = \"xdg.example\"\n"), 0o600)
	home := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".config", "outbox"), 0o700)
	os.WriteFile(filepath.Join(home, ".config", "outbox", "config.toml"), []byte("[accounts.x]\nhost = \"home.example\"\n"), 0o600)
	sys := writeConfig(t, "[accounts.x]\nhost = \"sys.example\"\n", 0o644)
	for _, tt := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"XDG_CONFIG_HOME": xdg, "HOME": home}, "xdg.example"},
		{map[string]string{"HOME": home}, "home.example"},
		{map[string]string{"HOME": t.TempDir()}, "sys.example"},
	} {
		a, err := account.Resolve(account.Options{Getenv: getenv(tt.vars), SystemConfig: sys})
		if err != nil || a.Host != tt.want {
			t.Errorf("%v: host %v, err %v", tt.vars, a, err)
		}
	}
	// An explicit file must exist.
	_, err = account.Resolve(account.Options{Env: account.Layer{ConfigFile: filepath.Join(home, "missing.toml")}, Getenv: getenv(nil)})
	e = wantKind(t, err, account.ErrNotFound)
	if e.Source != "OUTBOX_CONFIG" {
		t.Errorf("source = %q", e.Source)
	}
}
