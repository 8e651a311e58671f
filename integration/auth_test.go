package integration

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/auth"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
)

// TestAuthMechanisms logs in with every mechanism Dovecot offers through
// Postfix, as alice and as bob (whose password has spaces and non-ASCII
// characters), sends, and checks that Postfix logged that mechanism for
// that user, and that the message arrived unchanged.
func TestAuthMechanisms(t *testing.T) {
	e := need(t)
	want := []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"}
	for _, m := range want {
		if !slices.Contains(e.Mechs, m) {
			t.Fatalf("the server does not offer %s (OUTBOX_IT_AUTH_MECHS=%q)", m, strings.Join(e.Mechs, " "))
		}
	}
	for _, who := range []struct {
		name string
		l    login
	}{{"alice", e.alice()}, {"bob-utf8-password", e.bob()}} {
		for _, mech := range e.Mechs {
			t.Run(who.name+"/"+mech, func(t *testing.T) {
				t.Parallel()
				l := who.l
				l.mech = mech
				mark := newMark(t)
				sent := msg(mark, []string{"From: " + l.user, "To: " + e.User, "Subject: AUTH " + mech}, "logged in with "+mech)
				r := runOutbox(t, invocation{
					args:  e.sendArgs(e.Submission, "starttls", l, "--json", "-v", e.User),
					env:   sendEnv(l),
					stdin: sent,
				})
				r.wantExit(t, 0)
				o := parseOutcome(t, r)
				if o.Auth != mech {
					t.Fatalf("--json auth = %q, want %s", o.Auth, mech)
				}
				checkSecretsHidden(t, r.stderr, l)
				checkDelivered(t, waitDelivered(t, e.UserMaildir, mark), sent)
				qid := logQueueID(t, mark)
				if o.QueueID != qid {
					t.Fatalf("--json queue_id %q, Postfix logged %q", o.QueueID, qid)
				}
				session := logSession(t, qid)
				wantLog := fmt.Sprintf("%s: client=unknown[127.0.0.1], sasl_method=%s, sasl_username=%s", qid, mech, l.user)
				if !slices.ContainsFunc(session, func(s string) bool { return strings.Contains(s, wantLog) }) {
					t.Fatalf("Postfix did not log %q\n%s", wantLog, strings.Join(session, "\n"))
				}
			})
		}
	}
}

// checkSecretsHidden fails if the transcript shows the password, in clear
// or in any of the encodings the mechanisms send it in.
func checkSecretsHidden(t *testing.T, stderr string, l login) {
	t.Helper()
	secrets := []string{
		l.password,
		base64.StdEncoding.EncodeToString([]byte(l.password)),                            // LOGIN
		base64.StdEncoding.EncodeToString([]byte("\x00" + l.user + "\x00" + l.password)), // PLAIN
	}
	for _, s := range secrets {
		if strings.Contains(stderr, s) {
			t.Fatalf("the transcript shows the password (as %q)\n%s", s, stderr)
		}
	}
	if strings.Contains(stderr, "AUTH") && !strings.Contains(stderr, "<redacted>") {
		t.Fatalf("the transcript of an AUTH exchange has no redacted line\n%s", stderr)
	}
}

// TestAuthWrongPassword checks that a wrong password is refused by Dovecot
// with 535 for every mechanism, that outbox exits 77 with the server's
// words and a hint, and that nothing was sent after the refusal.
func TestAuthWrongPassword(t *testing.T) {
	e := need(t)
	for _, mech := range e.Mechs {
		t.Run(mech, func(t *testing.T) {
			t.Parallel()
			l := login{user: e.User, password: e.Password + "-wrong", mech: mech}
			// A source address of its own: see newSourceIP.
			addr := forwardFrom(t, newSourceIP(t), e.Submission)
			r := runOutbox(t, invocation{
				args:  e.sendArgs(addr, "starttls", l, "--json", "-v", e.User2),
				env:   sendEnv(l),
				stdin: msg(newMark(t), []string{"From: " + e.User, "To: " + e.User2, "Subject: wrong password"}, "x"),
			})
			r.wantExit(t, 77)
			o := parseOutcome(t, r)
			if o.Error == nil || o.Error.Code != 535 || o.Error.Stage != "auth" {
				t.Fatalf("--json error = %+v, want a 535 at the auth stage\n%s", o.Error, r.stdout)
			}
			if !strings.Contains(r.stderr, "outbox: error:") || !strings.Contains(r.stderr, "535") || !strings.Contains(r.stderr, "outbox: hint:") {
				t.Fatalf("want an error naming 535 and a hint\n%s", r.stderr)
			}
			if l, ok := parseTranscript(r.stderr).sentAny("MAIL", "RCPT", "BDAT", "DATA"); ok {
				t.Fatalf("sent %q after the login was refused\n%s", l, r.stderr)
			}
			checkSecretsHidden(t, r.stderr, l)
		})
	}
}

// TestAuthPackage drives the smtp and auth packages directly against
// Postfix with Dovecot SASL: STARTTLS verified by a [tlsconf.Policy], each
// mechanism chosen by [auth.Choose], a wrong password refused with a typed
// 535 at the auth stage, and then, on the same connection, the right one
// accepted and a message delivered. Each runs from a source address of its
// own (see newSourceIP).
func TestAuthPackage(t *testing.T) {
	e := need(t)
	for _, mech := range e.Mechs {
		for _, l := range []login{e.alice(), e.bob()} {
			t.Run(mech+"/"+strings.Split(l.user, "@")[0], func(t *testing.T) {
				t.Parallel()
				var trace bytes.Buffer
				c := dialSubmission(t, e, &trace)
				defer c.Close()
				cs, ok := c.TLSConnectionState()
				if !ok {
					t.Fatal("no TLS after StartTLS")
				}
				choose := func(password string) auth.Mechanism {
					m, err := auth.Choose(c.Extensions().AuthMechanisms(), &cs, auth.Config{
						Mechanisms: []string{mech},
						User:       l.user,
						Password:   func() (string, error) { return password, nil },
					})
					if err != nil {
						t.Fatalf("auth.Choose(%s): %v", mech, err)
					}
					return m
				}

				err := c.Auth(choose(l.password + "x"))
				var se *smtp.Error
				var stage *smtp.StageError
				if !errors.As(err, &se) || se.Code != 535 || se.Temporary() || !errors.As(err, &stage) || stage.Stage != smtp.StageAuth {
					t.Fatalf("wrong password: err = %v (%T), want a permanent *smtp.Error 535 at the auth stage", err, err)
				}
				if !strings.HasPrefix(se.Enhanced, "5.7.") {
					t.Fatalf("wrong password: enhanced code %q, want 5.7.x", se.Enhanced)
				}
				if c.AuthMechanism() != "" {
					t.Fatalf("AuthMechanism() = %q after a refusal", c.AuthMechanism())
				}

				if err := c.Auth(choose(l.password)); err != nil {
					t.Fatalf("right password after a refusal: %v\n%s", err, trace.String())
				}
				if c.AuthMechanism() != mech {
					t.Fatalf("AuthMechanism() = %q, want %s", c.AuthMechanism(), mech)
				}
				checkSecretsHidden(t, trace.String(), l)

				mark := newMark(t)
				sent := msg(mark, []string{"From: " + l.user, "To: " + e.User, "Subject: package AUTH " + mech}, "sent by the smtp package")
				res, err := c.Send(envelope(t, l.user, e.User), bytes.NewReader(sent), &smtp.SendOptions{Quit: true})
				if err != nil {
					t.Fatalf("Send: %v\n%s", err, trace.String())
				}
				if res.Accepted() != 1 || res.QueueID == "" {
					t.Fatalf("result: %d accepted, queue id %q", res.Accepted(), res.QueueID)
				}
				checkDelivered(t, waitDelivered(t, e.UserMaildir, mark), sent)
				if qid := logQueueID(t, mark); qid != res.QueueID {
					t.Fatalf("QueueID %q, Postfix logged %q", res.QueueID, qid)
				}
			})
		}
	}
}

// dialSubmission connects to the submission port from a source address of
// its own (see newSourceIP) and runs STARTTLS, verifying the server against
// the test CA.
func dialSubmission(t *testing.T, e *mailEnv, trace *bytes.Buffer) *smtp.Client {
	t.Helper()
	c := smtp.NewClient(dialFrom(t, newSourceIP(t), e.Submission), &smtp.Options{
		LocalName: "client.example.test",
		Trace:     trace,
		Deadline:  time.Now().Add(2 * time.Minute),
	})
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	p := &tlsconf.Policy{ServerName: e.TLSName, CAFile: e.CA}
	cfg, err := p.Config()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(cfg); err != nil {
		t.Fatalf("StartTLS: %v\n%s", err, trace.String())
	}
	if st, ok := c.TLSConnectionState(); !ok || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state after StartTLS: %v %x", ok, st.Version)
	}
	return c
}

// envelope is MAIL FROM:<from> with one RCPT TO per recipient.
func envelope(t *testing.T, from string, rcpts ...string) *smtp.Envelope {
	t.Helper()
	f, err := smtp.ParseAddress(from)
	if err != nil {
		t.Fatal(err)
	}
	env := &smtp.Envelope{From: f}
	for _, r := range rcpts {
		a, err := smtp.ParseAddress(r)
		if err != nil {
			t.Fatal(err)
		}
		env.Recipients = append(env.Recipients, smtp.Recipient{Address: a})
	}
	return env
}
