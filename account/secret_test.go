package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outbox-smtp/outbox/account"
	"github.com/zalando/go-keyring"
)

func TestPasswordSources(t *testing.T) {
	keyring.MockInit()
	if err := keyring.Set(account.KeyringService, "alice@smtp.example.com", "from-keyring"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	os.WriteFile(private, []byte("from-file\r\nignored\n"), 0o600)
	shared := filepath.Join(dir, "shared")
	os.WriteFile(shared, []byte("from-file\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	vars := map[string]string{"MY_PW": "from-env"}

	tests := []struct {
		name     string
		settings string
		flags    account.Layer
		prompt   func(string) (string, error)
		want     string
		kind     account.ErrorKind // when the fetch fails
	}{
		{"literal", `password = "in-file"`, account.Layer{}, nil, "in-file", 0},
		{"command", `password_command = ` + fakeCommand(t, "print", "from", "command"), account.Layer{}, nil, "from command", 0},
		{"command fails", `password_command = ` + fakeCommand(t, "fail"), account.Layer{}, nil, "", account.ErrSecret},
		{"command silent", `password_command = ` + fakeCommand(t, "silent"), account.Layer{}, nil, "", account.ErrSecret},
		{"command missing", `password_command = ["/nonexistent/outbox-test-command"]`, account.Layer{}, nil, "", account.ErrSecret},
		{"env", `password_env = "MY_PW"`, account.Layer{}, nil, "from-env", 0},
		{"env unset", `password_env = "NOT_SET"`, account.Layer{}, nil, "", account.ErrSecret},
		{"file", `password_file = "` + private + `"`, account.Layer{}, nil, "from-file", 0},
		{"file readable by others", `password_file = "` + shared + `"`, account.Layer{}, nil, "", account.ErrPermissions},
		{"file empty", `password_file = "` + empty + `"`, account.Layer{}, nil, "", account.ErrSecret},
		{"keyring", `keyring = true`, account.Layer{}, nil, "from-keyring", 0},
		{"keyring without entry", `keyring = true`, account.Layer{User: "bob"}, nil, "", account.ErrSecret},
		{"prompt", ``, account.Layer{}, func(label string) (string, error) {
			if label != "password for alice at smtp.example.com" {
				return "", errors.New("label " + label)
			}
			return "typed", nil
		}, "typed", 0},
		{"no terminal", ``, account.Layer{}, func(string) (string, error) { return "", account.ErrNoTerminal }, "", account.ErrSecret},
		{"flag beats file", `password_env = "MY_PW"`, account.Layer{PasswordCommand: `"` + os.Args[0] + `" fake-command print 'from flag'`}, nil, "from flag", 0},
		{"flag env name", `password = "in-file"`, account.Layer{PasswordEnv: "MY_PW"}, nil, "from-env", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "[accounts.a]\nhost = \"smtp.example.com\"\nuser = \"alice\"\n"+tt.settings+"\n", 0o600)
			tt.flags.ConfigFile = path
			a, err := account.Resolve(account.Options{Flags: tt.flags, Getenv: getenv(vars), Prompt: tt.prompt, SystemConfig: "/nonexistent"})
			if err != nil {
				t.Fatal(err)
			}
			if a.Auth.Password == nil {
				t.Fatal("no password function")
			}
			pw, err := a.Auth.Password(context.Background())
			if tt.kind != 0 {
				e := wantKind(t, err, tt.kind)
				if tt.kind == account.ErrSecret && e.Hint() == "" && tt.name != "env unset" && tt.name != "command silent" && tt.name != "file empty" {
					t.Errorf("no hint for %v", err)
				}
				return
			}
			if err != nil || pw != tt.want {
				t.Fatalf("password = %q, %v; want %q", pw, err, tt.want)
			}
		})
	}
}

func TestPasswordFetchedOnce(t *testing.T) {
	path := writeConfig(t, "[accounts.a]\nhost = \"x.example\"\nuser = \"u\"\n", 0o600)
	var calls int
	a := mustResolveOpts(t, account.Options{Flags: account.Layer{ConfigFile: path}, Getenv: getenv(nil), SystemConfig: "/nonexistent",
		Prompt: func(string) (string, error) { calls++; return "typed", nil }})
	for range 3 {
		if pw, err := a.Auth.Password(context.Background()); pw != "typed" || err != nil {
			t.Fatalf("%q %v", pw, err)
		}
	}
	if calls != 1 {
		t.Errorf("prompted %d times", calls)
	}
	// Without a user there is nothing to ask for.
	path = writeConfig(t, "[accounts.a]\nhost = \"x.example\"\n", 0o600)
	a = mustResolveOpts(t, account.Options{Flags: account.Layer{ConfigFile: path}, Getenv: getenv(nil), SystemConfig: "/nonexistent",
		Prompt: func(string) (string, error) { return "typed", nil }})
	if a.Auth.Password != nil {
		t.Error("password function without a user")
	}
}

func mustResolveOpts(t *testing.T, opts account.Options) *account.Account {
	t.Helper()
	a, err := account.Resolve(opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestPrecedence(t *testing.T) {
	path := writeConfig(t, `
[accounts.a]
host = "file.example"
port = 2500
tls = "none"
user = "file-user"
from = "file@example.com"
timeout = "1m"
on_partial_reject = "abort"
ehlo_name = "file-ehlo"
dsn_return = "full"
allow_insecure_auth = true
`, 0o600)
	envAll := account.Layer{Server: "env.example:2600", TLS: "implicit", User: "env-user", From: "env@example.com", Timeout: "2m", OnPartialReject: "continue", EHLOName: "env-ehlo", DSNReturn: "headers"}
	f := false
	flagsAll := account.Layer{Server: "flag.example", TLS: "starttls", User: "flag-user", From: "flag@example.com", Timeout: "3m", EHLOName: "flag-ehlo", AllowInsecureAuth: &f}

	type view struct{ host, port, tls, user, from, timeout, partial, ehlo, ret, insecure string }
	get := func(a *account.Account) view {
		return view{a.Host, itoa(a.Port), string(a.TLS.Mode), a.Auth.User, a.From, a.Timeout.String(), string(a.OnPartialReject), a.EHLOName, a.DSN.Return, boolStr(a.Auth.AllowInsecure)}
	}
	tests := []struct {
		name       string
		flags, env account.Layer
		want       view
	}{
		{"file", account.Layer{}, account.Layer{}, view{"file.example", "2500", "none", "file-user", "file@example.com", "1m0s", "abort", "file-ehlo", "full", "true"}},
		{"env over file", account.Layer{}, envAll, view{"env.example", "2600", "implicit", "env-user", "env@example.com", "2m0s", "continue", "env-ehlo", "headers", "true"}},
		{"flags over env", flagsAll, envAll, view{"flag.example", "587", "starttls", "flag-user", "flag@example.com", "3m0s", "continue", "flag-ehlo", "headers", "false"}},
		{"flags over file", flagsAll, account.Layer{}, view{"flag.example", "587", "starttls", "flag-user", "flag@example.com", "3m0s", "abort", "flag-ehlo", "full", "false"}},
		{"env port only", account.Layer{}, account.Layer{Port: "2700"}, view{"file.example", "2700", "none", "file-user", "file@example.com", "1m0s", "abort", "file-ehlo", "full", "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.flags.ConfigFile = path
			a, err := account.Resolve(account.Options{Flags: tt.flags, Env: tt.env, Getenv: getenv(nil), SystemConfig: "/nonexistent"})
			if err != nil {
				t.Fatal(err)
			}
			if got := get(a); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestLayerErrors(t *testing.T) {
	tests := []struct {
		flags, env account.Layer
		source     string
		msg        string
	}{
		{account.Layer{Server: "host:port"}, account.Layer{}, "-S/--server", "invalid port"},
		{account.Layer{}, account.Layer{Server: "h:99999"}, "OUTBOX_SERVER", "out of range"},
		{account.Layer{Server: "h", TLS: "ssl"}, account.Layer{}, "--tls", "unknown TLS mode"},
		{account.Layer{Server: "h"}, account.Layer{TLSPins: []string{"nope"}}, "OUTBOX_TLS_PIN", "invalid pin"},
		{account.Layer{Server: "h", Auth: "PLAIN,LOGN"}, account.Layer{}, "--auth", `did you mean "LOGIN"?`},
		{account.Layer{Server: "h", PasswordCommand: "pass 'show"}, account.Layer{}, "--password-command", "unterminated"},
		{account.Layer{Server: "h", Timeout: "-1s"}, account.Layer{}, "--timeout", "invalid duration"},
		{account.Layer{Server: "h", OnPartialReject: "stop"}, account.Layer{}, "--partial", "want continue or abort"},
		{account.Layer{Server: "h", DSNNotify: "sucess"}, account.Layer{}, "--dsn-notify", `did you mean "success"?`},
	}
	for _, tt := range tests {
		_, err := account.Resolve(account.Options{Flags: tt.flags, Env: tt.env, Getenv: getenv(nil), SystemConfig: "/nonexistent"})
		var e *account.Error
		if !errors.As(err, &e) || e.Source != tt.source || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%+v %+v: err = %v, want source %s and %q", tt.flags, tt.env, err, tt.source, tt.msg)
		}
	}
	if _, err := account.FromEnv(getenv(map[string]string{"OUTBOX_ALLOW_INSECURE_AUTH": "maybe"})); err == nil {
		t.Error("FromEnv accepted a bad boolean")
	}
}

func TestSplitCommand(t *testing.T) {
	tests := map[string][]string{
		`pass show mail/work`:           {"pass", "show", "mail/work"},
		`  gpg  -d  "a file.gpg" `:      {"gpg", "-d", "a file.gpg"},
		`echo 'it''s' "$HOME" \$x a\ b`: {"echo", "its", "$HOME", "$x", "a b"},
		`cmd "say \"hi\""`:              {"cmd", `say "hi"`},
		`cmd ''`:                        {"cmd", ""},
	}
	for in, want := range tests {
		got, err := account.SplitCommand(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") || len(got) != len(want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{``, `   `, `a 'b`, `a "b`, `a \`} {
		if _, err := account.SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) succeeded", bad)
		}
	}
}

// TestOAuth2Refresh runs the refresh-token flow against a fake token
// endpoint: a token is fetched, cached in a private file, reused by the next
// run, and renewed after a rejection.
func TestOAuth2Refresh(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		r.ParseForm()
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "rt-1" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != "client" || secret != "s3cret" {
			if r.Form.Get("client_id") != "client" || r.Form.Get("client_secret") != "s3cret" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at-" + itoa(int(n)), "token_type": "Bearer", "expires_in": 3600})
	}))
	defer srv.Close()

	cache := t.TempDir()
	vars := map[string]string{"RT": "rt-1", "XDG_CACHE_HOME": cache}
	cfg := writeConfig(t, `
[accounts.a]
host = "smtp.example.com"
user = "alice@example.com"
[accounts.a.oauth2]
token_url = "`+srv.URL+`/token"
client_id = "client"
client_secret_command = `+fakeCommand(t, "print", "s3cret")+`
refresh_token_env = "RT"
`, 0o600)
	run := func() *account.Account {
		return mustResolveOpts(t, account.Options{Flags: account.Layer{ConfigFile: cfg}, Getenv: getenv(vars), SystemConfig: "/nonexistent"})
	}
	ctx := context.Background()
	o := run().Auth.OAuth2
	if tok, err := o.Token(ctx); tok != "at-1" || err != nil {
		t.Fatalf("first token = %q, %v", tok, err)
	}
	if tok, _ := o.Token(ctx); tok != "at-1" || requests.Load() != 1 {
		t.Fatalf("token not reused in memory: %q after %d requests", tok, requests.Load())
	}
	files, _ := filepath.Glob(filepath.Join(cache, "outbox", "oauth2", "*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	fi, _ := os.Stat(files[0])
	di, _ := os.Stat(filepath.Dir(files[0]))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Errorf("cache modes %o %o", fi.Mode().Perm(), di.Mode().Perm())
	}

	// A new run reads the cache instead of refreshing.
	o = run().Auth.OAuth2
	if tok, _ := o.Token(ctx); tok != "at-1" || requests.Load() != 1 {
		t.Fatalf("cache not used: %q after %d requests", tok, requests.Load())
	}
	// The server rejected the token: renew it.
	if tok, err := o.Renew(ctx); tok != "at-2" || err != nil {
		t.Fatalf("renewed token = %q, %v", tok, err)
	}
	// A cache others can read is ignored.
	os.Chmod(files[0], 0o644)
	o = run().Auth.OAuth2
	if tok, _ := o.Token(ctx); tok != "at-3" {
		t.Fatalf("shared cache used: %q", tok)
	}

	// A revoked refresh token says so.
	vars["RT"] = "revoked"
	vars["XDG_CACHE_HOME"] = t.TempDir()
	_, err := run().Auth.OAuth2.Token(ctx)
	e := wantKind(t, err, account.ErrSecret)
	if !strings.Contains(e.Hint(), "authorize outbox again") {
		t.Errorf("hint = %q", e.Hint())
	}
}

func TestOAuth2Static(t *testing.T) {
	cfg := writeConfig(t, "[accounts.a]\nhost = \"h.example\"\nuser = \"u\"\n[accounts.a.oauth2]\ntoken_command = "+fakeCommand(t, "print", "static-token")+"\n", 0o600)
	a := mustResolveOpts(t, account.Options{Flags: account.Layer{ConfigFile: cfg}, Getenv: getenv(nil), SystemConfig: "/nonexistent"})
	if a.Auth.OAuth2.Source != "token_command" {
		t.Errorf("source = %q", a.Auth.OAuth2.Source)
	}
	for _, f := range []func(context.Context) (string, error){a.Auth.OAuth2.Token, a.Auth.OAuth2.Renew} {
		if tok, err := f(context.Background()); tok != "static-token" || err != nil {
			t.Errorf("token = %q, %v", tok, err)
		}
	}
	cfg = writeConfig(t, "[accounts.a]\nhost = \"h.example\"\n[accounts.a.oauth2]\ntoken_env = \"T\"\ntoken_url = \"https://x.example/t\"\n", 0o600)
	_, err := account.Load(cfg, getenv(nil))
	wantKind(t, err, account.ErrValue)
}
