package cmd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/sink"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
	"github.com/outbox-smtp/outbox/tlsconf/tlstest"
	"github.com/urfave/cli/v2"
)

// isolate keeps the user's configuration and OUTBOX_* variables out of a
// test that resolves an account.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("NO_COLOR", "1")
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "OUTBOX_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
}

// startSink starts a capture server on 127.0.0.1 and returns its address.
func startSink(t *testing.T, cfg sink.Config) (*sink.Server, string) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	srv, err := sink.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, addr.String()
}

// writeFile writes b to a file in a fresh directory and returns its path.
func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// probeJSON runs the probe with --json and returns its parsed output, the
// error and the transcript (-v).
func probeJSON(t *testing.T, req *probeRequest) (map[string]any, error, string) {
	t.Helper()
	req.json = true
	req.verbose = 1
	var stdout, stderr bytes.Buffer
	err := runProbe(context.Background(), req, &stdout, &stderr, false)
	var out map[string]any
	if jerr := json.Unmarshal(stdout.Bytes(), &out); jerr != nil {
		t.Fatalf("output is not JSON: %v\n%s", jerr, stdout.String())
	}
	return out, err, stderr.String()
}

// field follows a path of object keys and array indexes through v.
func field(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object at %q", path, k)
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no field %q", path, k)
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no element %d", path, k)
			}
			v = a[k]
		}
	}
	return v
}

func TestProbeExpiredCertificate(t *testing.T) {
	isolate(t)
	ca := tlstest.NewCA()
	now := time.Now()
	cert := ca.Leaf([]string{"127.0.0.1"}, now.Add(-60*24*time.Hour), now.Add(-30*24*time.Hour))
	_, addr := startSink(t, sink.Config{TLS: sink.TLSStartTLS, Certificate: &cert, User: "demo", Password: "secret"})
	t.Setenv("PROBE_TEST_PASSWORD", "secret")

	req := &probeRequest{
		flags: account.Layer{Server: addr, TLSCA: writeFile(t, "ca.pem", ca.PEM()), User: "demo", PasswordEnv: "PROBE_TEST_PASSWORD"},
		auth:  true,
		rcpts: []string{"bob@example.org"},
	}
	out, err, transcript := probeJSON(t, req)

	var ve *tlsconf.VerifyError
	if !errors.As(err, &ve) || ve.Kind != tlsconf.KindExpired {
		t.Fatalf("error = %v, want an expired certificate", err)
	}
	if code := ExitCode(err); code != ExitUnavailable {
		t.Errorf("exit code %d, want %d", code, ExitUnavailable)
	}
	if got := field(t, out, "ok"); got != false {
		t.Errorf("ok = %v, want false", got)
	}
	if got := field(t, out, "tls", "verified"); got != false {
		t.Errorf("tls.verified = %v, want false", got)
	}
	if got := field(t, out, "tls", "error_kind"); got != "expired" {
		t.Errorf("tls.error_kind = %v, want expired", got)
	}
	if got := field(t, out, "tls", "chain", 0, "days_left").(float64); got > -29 || got < -31 {
		t.Errorf("days_left = %v, want about -30", got)
	}
	wantPin := tlsconf.KeyPin(mustParse(t, cert)).String()
	if got := field(t, out, "tls", "chain", 0, "key_sha256"); got != wantPin {
		t.Errorf("key_sha256 = %v, want %s", got, wantPin)
	}
	// The report goes on after TLS: the EHLO after it is shown...
	if got := field(t, out, "auth", "after_tls"); len(got.([]any)) != 2 {
		t.Errorf("auth.after_tls = %v, want PLAIN and LOGIN", got)
	}
	// ...but nothing is sent that the connection could leak.
	if _, ok := out["rcpt"]; ok {
		t.Error("recipients checked over an unverified connection")
	}
	if _, ok := field(t, out, "auth").(map[string]any)["login"]; ok {
		t.Error("login attempted over an unverified connection")
	}
	for _, verb := range []string{"C: AUTH", "C: MAIL", "C: RCPT"} {
		if strings.Contains(transcript, verb) {
			t.Errorf("transcript has %q over an unverified connection:\n%s", verb, transcript)
		}
	}
	if !strings.Contains(transcript, "C: QUIT") {
		t.Errorf("transcript lacks QUIT:\n%s", transcript)
	}
}

func mustParse(t *testing.T, c tls.Certificate) *x509.Certificate {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestProbeWrongNameImplicit(t *testing.T) {
	isolate(t)
	ca := tlstest.NewCA()
	cert := ca.ValidLeaf("mail.example.org")
	_, addr := startSink(t, sink.Config{TLS: sink.TLSImplicit, Certificate: &cert})

	var stdout, stderr bytes.Buffer
	req := &probeRequest{flags: account.Layer{Server: addr, TLS: "implicit", TLSCA: writeFile(t, "ca.pem", ca.PEM())}}
	err := runProbe(context.Background(), req, &stdout, &stderr, false)
	var ve *tlsconf.VerifyError
	if !errors.As(err, &ve) || ve.Kind != tlsconf.KindWrongName {
		t.Fatalf("error = %v, want a wrong name", err)
	}
	if code := ExitCode(err); code != ExitUnavailable {
		t.Errorf("exit code %d, want %d", code, ExitUnavailable)
	}
	report := stdout.String()
	for _, re := range []string{
		`(?m)^  mode +implicit \(TLS from the first byte\)$`,
		`(?m)^  verified +NO: TLS verification of 127\.0\.0\.1 failed: certificate is for another name \(mail\.example\.org\)$`,
		`(?m)^    names +mail\.example\.org$`,
		`(?m)^    key sha256 +sha256/[A-Za-z0-9+/]{43}= \(public key\)$`,
		`(?m)^EHLO after TLS `,
		`(?m)^Result: failed: TLS verification`,
	} {
		if !regexp.MustCompile(re).MatchString(report) {
			t.Errorf("report lacks %s:\n%s", re, report)
		}
	}
	// A pin is suggested only for a certificate that verified.
	if strings.Contains(report, "to pin") {
		t.Errorf("report suggests pinning an unverified certificate:\n%s", report)
	}
}

func TestProbeSurvey(t *testing.T) {
	isolate(t)
	implicitSrv, implicitAddr := startSink(t, sink.Config{TLS: sink.TLSImplicit})
	starttlsSrv, starttlsAddr := startSink(t, sink.Config{TLS: sink.TLSStartTLS})
	closed := closedPort(t)
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	// Each sink generates its own CA: trust both.
	ca := writeFile(t, "ca.pem", append(implicitSrv.CACertPEM(), starttlsSrv.CACertPEM()...))

	req := &probeRequest{
		flags: account.Layer{Server: "127.0.0.1", TLSCA: ca},
		targets: []probeTarget{
			{Port: port(implicitAddr), Mode: tlsconf.ModeImplicit},
			{Port: port(starttlsAddr), Mode: tlsconf.ModeStartTLS},
			{Port: port(closed), Mode: tlsconf.ModeStartTLS},
		},
	}
	out, err, _ := probeJSON(t, req)
	if err != nil {
		t.Fatalf("survey with two working ports: %v", err)
	}
	if got := field(t, out, "ok"); got != true {
		t.Errorf("ok = %v", got)
	}
	working := field(t, out, "working").([]any)
	if len(working) != 2 || int(working[0].(float64)) != port(implicitAddr) || int(working[1].(float64)) != port(starttlsAddr) {
		t.Errorf("working = %v, want [%d %d]", working, port(implicitAddr), port(starttlsAddr))
	}
	if got := field(t, out, "ports", 0, "tls_mode"); got != "implicit" {
		t.Errorf("ports[0].tls_mode = %v", got)
	}
	if got := field(t, out, "ports", 1, "tls", "verified"); got != true {
		t.Errorf("ports[1].tls.verified = %v", got)
	}
	if got := field(t, out, "ports", 2, "error", "stage"); got != "connect" {
		t.Errorf("ports[2].error.stage = %v, want connect", got)
	}
	if got := field(t, out, "ports", 2, "connection", "attempts", 0, "ok"); got != false {
		t.Errorf("ports[2] connection attempt ok = %v", got)
	}

	// The readable survey ends with which ports work.
	var stdout, stderr bytes.Buffer
	req.json = false
	if err := runProbe(context.Background(), req, &stdout, &stderr, false); err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^Summary for 127\.0\.0\.1$`,
		`(?m)^  ` + strconv.Itoa(port(implicitAddr)) + ` \(implicit\) +works$`,
		`(?m)^  ` + strconv.Itoa(port(starttlsAddr)) + ` \(starttls\) +works$`,
		`(?m)^  ` + strconv.Itoa(port(closed)) + ` \(starttls\) +fails: connect: .*connection refused$`,
	} {
		if !regexp.MustCompile(re).MatchString(stdout.String()) {
			t.Errorf("survey lacks %s:\n%s", re, stdout.String())
		}
	}
}

func TestProbeSurveyNoPortWorks(t *testing.T) {
	isolate(t)
	// A server that is reached but fails verification says more than a
	// closed port, whatever the order.
	_, untrusted := startSink(t, sink.Config{TLS: sink.TLSStartTLS})
	closed := closedPort(t)
	port := func(addr string) int {
		_, p, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(p)
		return n
	}
	req := &probeRequest{
		flags: account.Layer{Server: "127.0.0.1"},
		targets: []probeTarget{
			{Port: port(closed), Mode: tlsconf.ModeImplicit},
			{Port: port(untrusted), Mode: tlsconf.ModeStartTLS},
		},
	}
	out, err, _ := probeJSON(t, req)
	var ve *tlsconf.VerifyError
	if !errors.As(err, &ve) || ve.Kind != tlsconf.KindUnknownAuthority {
		t.Fatalf("error = %v, want the unknown authority of the reachable port", err)
	}
	if code := ExitCode(err); code != ExitUnavailable {
		t.Errorf("exit code %d, want %d", code, ExitUnavailable)
	}
	if !strings.HasPrefix(err.Error(), "no port of 127.0.0.1 works") {
		t.Errorf("error %q does not say that no port works", err)
	}
	if got := field(t, out, "ok"); got != false {
		t.Errorf("ok = %v", got)
	}
	if got := field(t, out, "working").([]any); len(got) != 0 {
		t.Errorf("working = %v, want none", got)
	}
}

func TestProbeRcptRefused(t *testing.T) {
	isolate(t)
	rule, err := sink.ParseRule("^nobody@=550 5.1.1 no such user")
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startSink(t, sink.Config{TLS: sink.TLSNone, RejectRcpt: []sink.Rule{rule}})
	req := &probeRequest{
		flags: account.Layer{Server: addr, TLS: "none", From: "alice@example.org"},
		rcpts: []string{"bob@example.org", "nobody@example.org"},
	}
	out, err, transcript := probeJSON(t, req)
	if code := ExitCode(err); code != ExitNoUser {
		t.Fatalf("exit code %d (%v), want %d", code, err, ExitNoUser)
	}
	if got := field(t, out, "rcpt", "from"); got != "alice@example.org" {
		t.Errorf("rcpt.from = %v", got)
	}
	if got := field(t, out, "rcpt", "recipients", 0, "accepted"); got != true {
		t.Errorf("first recipient accepted = %v", got)
	}
	if got := field(t, out, "rcpt", "recipients", 1, "code"); got != float64(550) {
		t.Errorf("second recipient code = %v", got)
	}
	if got := field(t, out, "rcpt", "recipients", 1, "enhanced"); got != "5.1.1" {
		t.Errorf("second recipient enhanced = %v", got)
	}
	if got := field(t, out, "rcpt", "reset"); got != true {
		t.Errorf("rcpt.reset = %v", got)
	}
	// RSET ends the transaction: no DATA or BDAT is ever sent.
	if !strings.Contains(transcript, "C: RSET") || strings.Contains(transcript, "C: DATA") || strings.Contains(transcript, "C: BDAT") {
		t.Errorf("transcript:\n%s", transcript)
	}
	if !strings.Contains(err.Error(), "1 of 2 recipients refused: nobody@example.org: 550 5.1.1 no such user") {
		t.Errorf("error = %q", err)
	}
}

func TestProbeMailBeforeLogin(t *testing.T) {
	isolate(t)
	_, addr := startSink(t, sink.Config{TLS: sink.TLSNone, User: "demo", Password: "secret", RequireAuth: true, AllowInsecureAuth: true})
	req := &probeRequest{flags: account.Layer{Server: addr, TLS: "none"}, rcpts: []string{"bob@example.org"}}
	_, err, _ := probeJSON(t, req)
	if code := ExitCode(err); code != ExitUnavailable {
		t.Errorf("exit code %d (%v), want %d", code, err, ExitUnavailable)
	}
	if h := hintFor(err); h != "the server wants a login first: add --auth" {
		t.Errorf("hint = %q", h)
	}
}

func TestProbeLoginRefused(t *testing.T) {
	isolate(t)
	srv, addr := startSink(t, sink.Config{TLS: sink.TLSStartTLS, User: "demo", Password: "secret"})
	t.Setenv("PROBE_TEST_PASSWORD", "wrong")
	req := &probeRequest{
		flags: account.Layer{Server: addr, TLSCA: writeFile(t, "ca.pem", srv.CACertPEM()), User: "demo", PasswordEnv: "PROBE_TEST_PASSWORD"},
		auth:  true,
	}
	out, err, transcript := probeJSON(t, req)
	if code := ExitCode(err); code != ExitNoPerm {
		t.Fatalf("exit code %d (%v), want %d", code, err, ExitNoPerm)
	}
	if got := field(t, out, "auth", "login", "ok"); got != false {
		t.Errorf("auth.login.ok = %v", got)
	}
	if got := field(t, out, "auth", "login", "error").(string); !strings.Contains(got, "535") {
		t.Errorf("auth.login.error = %q", got)
	}
	if strings.Contains(transcript, "wrong") {
		t.Errorf("transcript shows the password:\n%s", transcript)
	}
}

func TestProbeStartTLSMissing(t *testing.T) {
	isolate(t)
	_, addr := startSink(t, sink.Config{TLS: sink.TLSNone})
	out, err, transcript := probeJSON(t, &probeRequest{flags: account.Layer{Server: addr}})
	if !errors.Is(err, smtp.ErrStartTLSUnavailable) || ExitCode(err) != ExitUnavailable {
		t.Fatalf("error = %v (exit %d), want STARTTLS unavailable, exit 69", err, ExitCode(err))
	}
	if got := field(t, out, "tls", "starttls_offered"); got != false {
		t.Errorf("tls.starttls_offered = %v", got)
	}
	if got := field(t, out, "tls", "established"); got != false {
		t.Errorf("tls.established = %v", got)
	}
	if !strings.Contains(transcript, "C: QUIT") {
		t.Errorf("no QUIT after refusing to go on in plaintext:\n%s", transcript)
	}
}

func TestProbeCommandLine(t *testing.T) {
	isolate(t)
	_, addr := startSink(t, sink.Config{TLS: sink.TLSNone})
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Main(append([]string{"outbox", "probe"}, args...), strings.NewReader(""), &stdout, &stderr, "test")
		return code, stdout.String(), stderr.String()
	}

	// Flags after HOST, as the synopsis shows them; -v counts.
	code, stdout, stderr := run(addr, "--tls", "none", "--json", "-v")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"tls_mode": "none"`) {
		t.Errorf("stdout:\n%s", stdout)
	}
	if !strings.Contains(stderr, "C: EHLO ") {
		t.Errorf("no transcript on stderr:\n%s", stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{addr, "extra"}, `unexpected argument "extra"`},
		{[]string{addr, "--no-such-flag"}, "flag provided but not defined: --no-such-flag"},
		{[]string{addr, "--tls"}, "flag needs an argument: --tls"},
		{[]string{"-S", addr, addr}, "server given twice"},
		{[]string{"--auth-mech", "PLAIN", addr}, "--auth-mech without --auth"},
		{[]string{"--auth", "--tls", "none", addr}, "--auth: the account has no credentials"},
	} {
		code, _, stderr := run(tc.args...)
		if code != ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("probe %q: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, ExitUsage, tc.want)
		}
	}
}

func TestProbeRequestPortless(t *testing.T) {
	for _, tc := range []struct {
		host    string
		tls     string
		server  string
		targets bool
	}{
		{"mail.example.org", "", "mail.example.org", true},
		{"mail.example.org:2525", "", "mail.example.org:2525", false},
		{"mail.example.org:", "", "mail.example.org", true},
		{"[::1]", "", "[::1]", true},
		{"[::1]:25", "", "[::1]:25", false},
		// --tls picks the port as send would.
		{"mail.example.org", "implicit", "mail.example.org", false},
	} {
		app := newApp(strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, "test")
		var got *probeRequest
		for _, c := range app.Commands {
			if c.Name == "probe" {
				c.Action = func(ctx *cli.Context) error {
					req, _, err := probeRequestFrom(ctx)
					got = req
					return err
				}
			}
		}
		args := []string{"outbox", "probe"}
		if tc.tls != "" {
			args = append(args, "--tls", tc.tls)
		}
		if err := app.Run(append(args, tc.host)); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if got.flags.Server != tc.server || (len(got.targets) > 0) != tc.targets {
			t.Errorf("%s --tls %q: server %q, %d targets; want %q, targets %v", tc.host, tc.tls, got.flags.Server, len(got.targets), tc.server, tc.targets)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0:         "0 bytes",
		1023:      "1023 bytes",
		1024:      "1 KiB",
		10240000:  "9.8 MiB",
		67108864:  "64 MiB",
		52428800:  "50 MiB",
		157286400: "150 MiB",
		1 << 40:   "1 TiB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDescribeExtension(t *testing.T) {
	for _, tc := range []struct {
		ext  smtp.Extension
		want string
	}{
		{smtp.Extension{Keyword: "SIZE", Params: []string{"35882577"}}, "messages up to 34.2 MiB (RFC 1870)"},
		{smtp.Extension{Keyword: "SIZE"}, "declares message sizes; no limit given (RFC 1870)"},
		{smtp.Extension{Keyword: "AUTH", Params: []string{"PLAIN", "XOAUTH2"}}, "login with SASL PLAIN, XOAUTH2 (RFC 4954)"},
		{smtp.Extension{Keyword: "REQUIRETLS"}, "relays a message only over verified TLS when the sender asks (RFC 8689)"},
		{smtp.Extension{Keyword: "X-EXPS", Params: []string{"GSSAPI"}}, "not known to outbox"},
	} {
		if got := describeExtension(tc.ext); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.ext.Keyword, got, tc.want)
		}
	}
}

func TestDaysLeft(t *testing.T) {
	now := time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		notAfter time.Time
		want     int
	}{
		{now.Add(36 * time.Hour), 1},
		{now.Add(time.Hour), 0},
		{now.Add(-time.Hour), -1},
		{now.Add(-48 * time.Hour), -2},
	} {
		if got := daysLeft(tc.notAfter, now); got != tc.want {
			t.Errorf("daysLeft(%v) = %d, want %d", tc.notAfter.Sub(now), got, tc.want)
		}
	}
}

func TestProbeReportColour(t *testing.T) {
	r := &probeResult{Server: "127.0.0.1:25", TLSMode: "none", OK: true, Connection: probeConnection{Addresses: []string{"127.0.0.1"}}}
	var plain, coloured bytes.Buffer
	newProbeReport(&plain, false).result(r)
	newProbeReport(&coloured, true).result(r)
	if strings.Contains(plain.String(), "\x1b[") {
		t.Errorf("plain report has escape sequences:\n%q", plain.String())
	}
	if !strings.Contains(coloured.String(), ansiBold+"Connection"+ansiReset) || !strings.Contains(coloured.String(), ansiGreen+"ok"+ansiReset) {
		t.Errorf("coloured report:\n%q", coloured.String())
	}
	// A buffer is never a terminal.
	if probeColour(&plain) {
		t.Error("colour on a buffer")
	}
}
