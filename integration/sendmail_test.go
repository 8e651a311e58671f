package integration

import (
	"bytes"
	"fmt"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cronHome writes a HOME with ~/.config/outbox/config.toml for the
// submission port (STARTTLS, the test CA, alice's login from a password
// file) with from = alice and an aliases file mapping root to alice: what a
// machine whose cron mails root through outbox has.
func cronHome(t *testing.T, e *mailEnv) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, "config", "outbox")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(e.Submission)
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "password")
	aliases := filepath.Join(dir, "aliases")
	files := map[string]string{
		pw:      e.Password + "\n",
		aliases: "# local names cron writes to\nroot: " + e.User + "\n",
		filepath.Join(dir, "config.toml"): fmt.Sprintf(`default_account = "it"

[accounts.it]
host = %q
port = %s
tls = "starttls"
tls_ca = %q
user = %q
password_file = %q
from = %q
aliases = %q
`, host, port, e.CA, e.User, pw, e.User, aliases),
	}
	for p, content := range files {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// TestSendmailCron runs outbox as sendmail exactly as the two common crons
// call it, with a message as each writes it (LF line ends, bare "root",
// no Date or Message-ID, 8-bit output, a lone "." line that -i keeps), and
// checks what root's alias (alice) received.
func TestSendmailCron(t *testing.T) {
	e := need(t)
	for _, tc := range []struct {
		name   string
		inv    func(args ...string) invocation
		args   []string
		from   string // the envelope sender expected in Return-Path
		header func(mark string) []string
	}{{
		// Debian's cron: /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem root
		name: "debian-cron",
		inv:  func(args ...string) invocation { return invocation{name: "sendmail", args: args} },
		args: []string{"-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"},
		from: e.User,
		header: func(mark string) []string {
			return []string{
				"From: root (Cron Daemon)",
				"To: root",
				"Subject: Cron <root@host> /usr/local/bin/report --run " + mark,
				"MIME-Version: 1.0",
				"Content-Type: text/plain; charset=UTF-8",
				"Content-Transfer-Encoding: 8bit",
				"X-Cron-Env: <SHELL=/bin/sh>",
				"X-Cron-Env: <HOME=/root>",
				"X-Cron-Env: <PATH=/usr/bin:/bin>",
				"X-Cron-Env: <LOGNAME=root>",
			}
		},
	}, {
		// cronie: sendmail -FCronDaemon -i -odi -oem -oi -t -f ADDR
		name: "cronie",
		inv:  func(args ...string) invocation { return invocation{args: append([]string{"sendmail"}, args...)} },
		args: []string{"-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "cron-daemon@" + e.Domain},
		from: "cron-daemon@" + e.Domain,
		header: func(mark string) []string {
			return []string{
				`From: "(Cron Daemon)" <cron-daemon@` + e.Domain + `>`,
				"To: root",
				"Subject: Cron <root@host> /usr/local/bin/report --run " + mark,
				"Content-Type: text/plain; charset=UTF-8",
				"Auto-Submitted: auto-generated",
				"Precedence: bulk",
				"X-Cron-Env: <LANG=de_DE.UTF-8>",
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mark := newMark(t)
			header := tc.header(mark)
			body := "Sicherung fertig: 3 Dateien, 12 MiB — Grüße\n.\n..\n.hidden\nEnde\n"
			input := []byte(strings.Join(header, "\n") + "\n\n" + body)
			inv := tc.inv(tc.args...)
			inv.home = cronHome(t, e)
			inv.stdin = input
			r := runOutbox(t, inv)
			r.wantExit(t, 0)
			if r.stdout != "" || r.stderr != "" {
				t.Fatalf("sendmail mode printed something on success (cron mails any output):\nstdout: %q\nstderr: %q", r.stdout, r.stderr)
			}
			got := waitDeliveredWith(t, e.UserMaildir, "--run "+mark)
			head, gotBody, ok := bytes.Cut(got, []byte("\n\n"))
			if !ok {
				t.Fatalf("delivered message has no body:\n%s", got)
			}
			if string(gotBody) != body {
				t.Fatalf("delivered body %q, want %q", gotBody, body)
			}
			fields := unfold(string(head))
			if rp := fields.get("Return-Path"); len(rp) != 1 || rp[0] != "<"+tc.from+">" {
				t.Fatalf("Return-Path %q, want <%s>", rp, tc.from)
			}
			if dt := fields.get("Delivered-To"); len(dt) != 1 || dt[0] != e.User {
				t.Fatalf("Delivered-To %q, want %s (root's alias)", dt, e.User)
			}
			// Every field cron wrote is there, in order, unchanged
			// except that bare local names may be qualified; a Date and
			// a Message-ID were added.
			i := 0
			for _, f := range fields {
				if i < len(header) && sameCronField(f, header[i], e.Domain) {
					i++
				}
			}
			if i != len(header) {
				t.Fatalf("delivered header lacks %q (or changed it)\n%s", header[i], head)
			}
			if d, id := fields.get("Date"), fields.get("Message-ID"); len(d) != 1 || len(id) != 1 || !regexp.MustCompile(`^<[^<>@\s]+@[^<>@\s]+>$`).MatchString(id[0]) {
				t.Fatalf("want one added Date and one Message-ID, got %q and %q\n%s", d, id, head)
			}
			// The added Message-ID names the sender's domain, as the
			// qualified From does, not "localhost".
			if id := fields.get("Message-ID")[0]; !strings.HasSuffix(id, "@"+e.Domain+">") {
				t.Fatalf("added Message-ID %s: want one in the sender's domain %s\n%s", id, e.Domain, head)
			}
		})
	}
}

// sameCronField reports whether a delivered field is the one cron wrote.
// From and To may have had the bare name "root" qualified with the sender's
// domain (as Postfix's own sendmail does); they must still name root.
func sameCronField(got headerField, sent, domain string) bool {
	if got.raw == sent {
		return true
	}
	sentName, _, _ := strings.Cut(sent, ":")
	if got.name != sentName || (got.name != "From" && got.name != "To") || !strings.Contains(sent, "root") {
		return false
	}
	list, err := mail.ParseAddressList(got.value)
	return err == nil && len(list) == 1 && list[0].Address == "root@"+domain
}

// headerField is one unfolded header field as delivered.
type headerField struct{ name, value, raw string }

type headerFields []headerField

// unfold splits a header (LF line ends) into fields, joining continuation
// lines.
func unfold(head string) headerFields {
	var fs headerFields
	for _, l := range strings.Split(head, "\n") {
		if l == "" {
			continue
		}
		if (l[0] == ' ' || l[0] == '\t') && len(fs) > 0 {
			fs[len(fs)-1].raw += "\n" + l
			fs[len(fs)-1].value += " " + strings.TrimSpace(l)
			continue
		}
		name, value, _ := strings.Cut(l, ":")
		fs = append(fs, headerField{name: name, value: strings.TrimSpace(value), raw: l})
	}
	return fs
}

func (fs headerFields) get(name string) []string {
	var out []string
	for _, f := range fs {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

// TestSendmailEnvironment runs sendmail mode with no configuration file,
// only OUTBOX_* variables (as in a container or CI job), logging in as bob
// whose password has spaces and non-ASCII characters. With -i the message
// goes through byte for byte; without it a lone "." line ends the message,
// as sendmail does.
func TestSendmailEnvironment(t *testing.T) {
	e := need(t)
	env := []string{
		"OUTBOX_SERVER=" + e.Submission,
		"OUTBOX_TLS=starttls",
		"OUTBOX_TLS_CA=" + e.CA,
		"OUTBOX_USER=" + e.User2,
		"OUTBOX_PASSWORD=" + e.Password2,
	}
	t.Run("oi", func(t *testing.T) {
		t.Parallel()
		mark := newMark(t)
		sent := msg(mark, []string{"From: Bob <" + e.User2 + ">", "To: " + e.User, "Subject: git send-email style"}, "patch", ".", "-- ", "2.45")
		r := runOutbox(t, invocation{
			name:  "sendmail",
			args:  []string{"-oi", "-oem", "-f", e.User2, "--", e.User},
			env:   env,
			stdin: sent,
		})
		r.wantExit(t, 0)
		hs := checkDelivered(t, waitDelivered(t, e.UserMaildir, mark), sent)
		if rp := field(hs, "Return-Path"); rp != "<"+e.User2+">" {
			t.Fatalf("Return-Path %q, want <%s>", rp, e.User2)
		}
		qid := logQueueID(t, mark)
		wantLog := fmt.Sprintf("%s: client=unknown[127.0.0.1], sasl_method=", qid)
		session := strings.Join(logSession(t, qid), "\n")
		if !strings.Contains(session, wantLog) || !strings.Contains(session, "sasl_username="+e.User2) {
			t.Fatalf("Postfix did not log bob's login for %s\n%s", qid, session)
		}
	})
	t.Run("lone-dot-ends-input", func(t *testing.T) {
		t.Parallel()
		mark := newMark(t)
		kept := msg(mark, []string{"From: " + e.User2, "To: " + e.User, "Subject: dot ends it"}, "first part")
		input := append(append([]byte{}, kept...), ".\r\nnever sent\r\n"...)
		r := runOutbox(t, invocation{
			args:  []string{"sendmail", e.User},
			env:   env,
			stdin: input,
		})
		r.wantExit(t, 0)
		checkDelivered(t, waitDelivered(t, e.UserMaildir, mark), kept)
	})
}
