package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds every wait for the servers (a delivery, a log line). It
// is a deadline for a broken setup, never a measurement.
const waitLimit = 60 * time.Second

// result is one run of the outbox binary.
type result struct {
	code   int
	stdout string
	stderr string
}

// invocation describes one run of the outbox binary.
type invocation struct {
	args []string
	// stdin is the message piped to standard input; stdinFile, when set,
	// is opened and given as standard input instead (a regular file, whose
	// size outbox can see).
	stdin     []byte
	stdinFile string
	env       []string // added to a clean environment
	// name, when set, runs outbox through a symlink with this name (such
	// as "sendmail") instead of by its own name.
	name string
	// home is HOME; a new empty directory when "". XDG_CONFIG_HOME is
	// home/config.
	home string
}

// runOutbox runs the outbox binary in a clean environment: no OUTBOX_*
// variables but the ones given, and a fresh HOME and XDG_CONFIG_HOME so no
// configuration file of the machine is read.
func runOutbox(t *testing.T, inv invocation) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := outboxBin
	if inv.name != "" {
		bin = filepath.Join(t.TempDir(), inv.name)
		if err := os.Symlink(outboxBin, bin); err != nil {
			t.Fatal(err)
		}
	}
	home := inv.home
	if home == "" {
		home = t.TempDir()
	}
	cmd := exec.CommandContext(ctx, bin, inv.args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"NO_COLOR=1",
		// A race-enabled binary waits a second at exit by default; a
		// race it finds still makes it exit 66 with a report on stderr.
		"GORACE=atexit_sleep_ms=50",
	}, inv.env...)
	switch {
	case inv.stdinFile != "":
		f, err := os.Open(inv.stdinFile)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.Stdin = f
	default:
		cmd.Stdin = bytes.NewReader(inv.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running outbox %s: %v\nstderr:\n%s", strings.Join(inv.args, " "), err, r.stderr)
	}
	return r
}

// wantExit fails the test unless outbox exited with code.
func (r result) wantExit(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("outbox exited %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// login is how a test authenticates.
type login struct {
	user, password string
	mech           string // --auth; "" for auto
}

func (e *mailEnv) alice() login { return login{user: e.User, password: e.Password} }
func (e *mailEnv) bob() login   { return login{user: e.User2, password: e.Password2} }

// sendArgs is "outbox send" to addr with TLS mode tls, verified against the
// test CA, logged in as l (the password passed in the environment variable
// IT_PASSWORD, see sendEnv), with extra flags after.
func (e *mailEnv) sendArgs(addr, tls string, l login, extra ...string) []string {
	args := []string{"send", "-S", addr, "--tls", tls, "--tls-ca", e.CA, "-u", l.user, "--password-env", "IT_PASSWORD"}
	if l.mech != "" {
		args = append(args, "--auth", l.mech)
	}
	return append(args, extra...)
}

func sendEnv(l login) []string { return []string{"IT_PASSWORD=" + l.password} }

// newMark returns a unique Message-ID (without angle brackets) for one
// message, so that a test finds its own mail among everything delivered
// before.
func newMark(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), ".")
	return strings.Trim(name, ".") + "." + hex.EncodeToString(b) + "@outbox.test"
}

// msg builds a message with CRLF line ends: the given header lines (each
// without its line end), Date and Message-ID (so outbox adds nothing), an
// empty line and the body lines.
func msg(mark string, header []string, body ...string) []byte {
	var b bytes.Buffer
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n")
	b.WriteString("Message-ID: <" + mark + ">\r\n")
	b.WriteString("\r\n")
	for _, l := range body {
		b.WriteString(l + "\r\n")
	}
	return b.Bytes()
}

// maildirCache remembers the header of every delivered file seen, so that
// polling reads each file once.
var maildirCache sync.Map // path -> string: the header, up to 64 KiB

// waitDelivered waits until a message carrying Message-ID <mark> is in the
// Maildir's new/ and returns its bytes. It fails if two carry it.
func waitDelivered(t *testing.T, maildir, mark string) []byte {
	t.Helper()
	return waitDeliveredMatch(t, maildir, "Message-ID <"+mark+">", func(header string) bool {
		m := messageIDRe.FindStringSubmatch(header)
		return m != nil && m[1] == mark
	})
}

// waitDeliveredWith waits for a message whose header contains needle.
func waitDeliveredWith(t *testing.T, maildir, needle string) []byte {
	t.Helper()
	return waitDeliveredMatch(t, maildir, "a header with "+needle, func(header string) bool {
		return strings.Contains(header, needle)
	})
}

func waitDeliveredMatch(t *testing.T, maildir, what string, match func(header string) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		found := findDelivered(t, maildir, match)
		switch {
		case len(found) == 1:
			b, err := os.ReadFile(found[0])
			if err != nil {
				t.Fatal(err)
			}
			return b
		case len(found) > 1:
			t.Fatalf("message with %s delivered %d times to %s", what, len(found), maildir)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %s delivered to %s within %v", what, maildir, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// findDelivered lists the files in maildir/new whose header matches.
func findDelivered(t *testing.T, maildir string, match func(header string) bool) []string {
	t.Helper()
	dir := filepath.Join(maildir, "new")
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		h, ok := maildirCache.Load(p)
		if !ok {
			// A file in new/ is complete: Maildir delivery renames it
			// there from tmp/.
			h = headerOf(t, p)
			maildirCache.Store(p, h)
		}
		if match(h.(string)) {
			found = append(found, p)
		}
	}
	return found
}

// waitDeliveredContent waits for a message of less than 1 MiB whose bytes
// contain needle anywhere (for reports the server writes itself).
func waitDeliveredContent(t *testing.T, maildir, needle string) []byte {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		dir := filepath.Join(maildir, "new")
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var found [][]byte
		for _, ent := range ents {
			if info, err := ent.Info(); err != nil || info.Size() >= 1<<20 {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(needle)) {
				found = append(found, b)
			}
		}
		switch {
		case len(found) == 1:
			return found[0]
		case len(found) > 1:
			t.Fatalf("%d messages in %s contain %q", len(found), maildir, needle)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message containing %q delivered to %s within %v", needle, maildir, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var messageIDRe = regexp.MustCompile(`(?im)^Message-ID:[ \t]*<([^>\r\n]*)>`)

// headerOf returns the header of a delivered file (at most 64 KiB of it).
func headerOf(t *testing.T, path string) string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i+1]
	}
	return string(head)
}

// traceHeader is one header field the delivery added in front of the
// message.
type traceHeader struct{ name, value string }

// deliveredHeaders are the fields Postfix (virtual) and Dovecot (LMTP) put
// in front of a delivered message; nothing else may be added.
var deliveredHeaders = map[string]bool{"return-path": true, "x-original-to": true, "delivered-to": true, "received": true}

// checkDelivered checks that the delivered file is the sent message
// exactly, CRLF turned into LF, with only trace fields in front, and
// returns those fields.
func checkDelivered(t *testing.T, got, sent []byte) []traceHeader {
	t.Helper()
	want := bytes.ReplaceAll(sent, []byte("\r\n"), []byte("\n")) // Maildir files end lines in LF
	if len(got) < len(want) || !bytes.Equal(got[len(got)-len(want):], want) {
		t.Fatalf("delivered message does not end with the sent bytes:\n%s", describeMismatch(got, want))
	}
	prefix := got[:len(got)-len(want)]
	var hs []traceHeader
	for _, line := range strings.SplitAfter(string(prefix), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			t.Fatalf("delivered prefix ends without a line end: %q", line)
		}
		line = strings.TrimSuffix(line, "\n")
		if line[0] == ' ' || line[0] == '\t' {
			if len(hs) == 0 {
				t.Fatalf("delivered prefix starts with a continuation line %q", line)
			}
			hs[len(hs)-1].value += "\n" + line
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !deliveredHeaders[strings.ToLower(name)] {
			t.Fatalf("the delivery added %q in front of the message; only Return-Path, X-Original-To, Delivered-To and Received are expected\nprefix:\n%s", line, prefix)
		}
		hs = append(hs, traceHeader{name: name, value: strings.TrimSpace(value)})
	}
	if len(hs) == 0 {
		t.Fatalf("no trace fields in front of the delivered message:\n%s", excerpt(got, 0))
	}
	return hs
}

// field returns the first trace field called name.
func field(hs []traceHeader, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

var receivedRe = regexp.MustCompile(`by mail\.[^ ]+ \(Postfix\) with ([A-Z0-9]+) id ([0-9A-Za-z]+)[;\s]`)

// receivedBy returns the protocol and queue id from Postfix's Received
// field: "with UTF8SMTPSA id 73A14984143".
func receivedBy(t *testing.T, hs []traceHeader) (with, id string) {
	t.Helper()
	rcv := field(hs, "Received")
	m := receivedRe.FindStringSubmatch(rcv)
	if m == nil {
		t.Fatalf("no Postfix Received field in front of the message: %q", rcv)
	}
	return m[1], m[2]
}

// describeMismatch shows where two long byte strings part, comparing them
// from the end (the delivered file has extra fields in front).
func describeMismatch(got, want []byte) string {
	i, j := len(got)-1, len(want)-1
	for i >= 0 && j >= 0 && got[i] == want[j] {
		i--
		j--
	}
	if j < 0 {
		return "(only the start differs)"
	}
	return fmt.Sprintf("delivered %d octets, sent %d (CRLF made LF); they differ at sent offset %d (from the end: %d)\nsent around there:\n%s\ndelivered around there:\n%s",
		len(got), len(want), j, len(want)-1-j, excerpt(want, j), excerpt(got, i))
}

func excerpt(b []byte, at int) string {
	lo, hi := max(at-300, 0), min(at+300, len(b))
	if at < 0 {
		lo, hi = 0, min(600, len(b))
	}
	return fmt.Sprintf("%q", b[lo:hi])
}

// --- the transcript ---------------------------------------------------------

// transcript is the -v output of outbox, split into lines of the form
// "    12ms C: EHLO localhost".
type transcript []string

func parseTranscript(stderr string) transcript {
	var tr transcript
	for _, l := range strings.Split(stderr, "\n") {
		if m := traceLineRe.FindStringSubmatch(l); m != nil {
			tr = append(tr, m[1])
		}
	}
	return tr
}

var traceLineRe = regexp.MustCompile(`^\s*\d+ms ((?:C:|S:|\*) ?.*)$`)

// client returns the client lines (without "C: "), in order.
func (tr transcript) client() []string {
	var out []string
	for _, l := range tr {
		if s, ok := strings.CutPrefix(l, "C: "); ok {
			out = append(out, s)
		} else if l == "C:" {
			out = append(out, "")
		}
	}
	return out
}

// index returns the position of the first line from start on that has
// prefix, or -1.
func (tr transcript) index(start int, prefix string) int {
	for i := max(start, 0); i < len(tr); i++ {
		if strings.HasPrefix(tr[i], prefix) {
			return i
		}
	}
	return -1
}

// sentAny reports whether the client sent a command starting with any of
// the prefixes.
func (tr transcript) sentAny(prefixes ...string) (string, bool) {
	for _, l := range tr.client() {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				return l, true
			}
		}
	}
	return "", false
}

// --- --json -----------------------------------------------------------------

// outcome is the part of outbox send --json the tests read.
type outcome struct {
	Status string `json:"status"`
	Server string `json:"server"`
	TLS    *struct {
		Version string `json:"version"`
	} `json:"tls"`
	Auth       string `json:"auth"`
	Recipients []struct {
		Address  string `json:"address"`
		Accepted bool   `json:"accepted"`
		Code     int    `json:"code"`
		Enhanced string `json:"enhanced"`
		Message  string `json:"message"`
	} `json:"recipients"`
	QueueID string `json:"queue_id"`
	Size    int64  `json:"size"`
	Error   *struct {
		Stage    string `json:"stage"`
		Code     int    `json:"code"`
		Enhanced string `json:"enhanced"`
		Message  string `json:"message"`
	} `json:"error"`
}

func parseOutcome(t *testing.T, r result) *outcome {
	t.Helper()
	var o outcome
	if err := json.Unmarshal([]byte(r.stdout), &o); err != nil {
		t.Fatalf("outbox --json printed no JSON object: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return &o
}
