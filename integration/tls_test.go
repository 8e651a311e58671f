package integration

import (
	"strings"
	"testing"
)

// TestTLSModes sends through each TLS-capable Postfix port, verified
// against the test CA, and checks the message arrived unchanged.
func TestTLSModes(t *testing.T) {
	e := need(t)
	for _, tc := range []struct {
		name, addr, mode string
	}{
		{"starttls", e.Submission, "starttls"},
		{"starttls-required", e.TLSReq, "starttls"},
		{"implicit", e.Submissions, "implicit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mark := newMark(t)
			sent := msg(mark, []string{"From: " + e.User, "To: " + e.User2, "Subject: TLS " + tc.name}, "sent over "+tc.name)
			r := runOutbox(t, invocation{
				args:  e.sendArgs(tc.addr, tc.mode, e.alice(), "--json", "-v", e.User2),
				env:   sendEnv(e.alice()),
				stdin: sent,
			})
			r.wantExit(t, 0)
			o := parseOutcome(t, r)
			if o.Status != "sent" || o.TLS == nil || !strings.HasPrefix(o.TLS.Version, "TLS 1.") {
				t.Fatalf("outcome: status %q, tls %+v; want sent over TLS\n%s", o.Status, o.TLS, r.stdout)
			}
			tr := parseTranscript(r.stderr)
			starttls := tr.index(0, "C: STARTTLS")
			if (tc.mode == "starttls") != (starttls >= 0) {
				t.Fatalf("mode %s: STARTTLS in the transcript at %d\n%s", tc.mode, starttls, r.stderr)
			}
			tlsUp := tr.index(0, "* TLS")
			auth := tr.index(0, "C: AUTH")
			if tlsUp < 0 || auth < tlsUp {
				t.Fatalf("AUTH (line %d) must come after TLS is established (line %d)\n%s", auth, tlsUp, r.stderr)
			}
			if tc.mode == "starttls" && tr.index(starttls, "C: EHLO") < 0 {
				t.Fatalf("no EHLO after STARTTLS\n%s", r.stderr)
			}
			checkDelivered(t, waitDelivered(t, e.User2Maildir, mark), sent)
		})
	}
}

// TestTLSWrongCA checks that a server certificate the given CA did not
// sign is refused with exit 69 before anything is sent inside TLS: with a
// throwaway CA, and with the system roots (no --tls-ca).
func TestTLSWrongCA(t *testing.T) {
	e := need(t)
	other := throwawayCA(t)
	for _, tc := range []struct {
		name, addr, mode, ca string
	}{
		{"starttls-other-ca", e.Submission, "starttls", other},
		{"implicit-other-ca", e.Submissions, "implicit", other},
		{"starttls-system-roots", e.Submission, "starttls", ""},
		{"implicit-system-roots", e.Submissions, "implicit", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mark := newMark(t)
			args := []string{"send", "-S", tc.addr, "--tls", tc.mode, "-u", e.User, "--password-env", "IT_PASSWORD", "-v"}
			if tc.ca != "" {
				args = append(args, "--tls-ca", tc.ca)
			}
			r := runOutbox(t, invocation{
				args:  append(args, e.User2),
				env:   sendEnv(e.alice()),
				stdin: msg(mark, []string{"From: " + e.User, "To: " + e.User2, "Subject: must not leave"}, "secret"),
			})
			r.wantExit(t, 69)
			if !strings.Contains(r.stderr, "outbox: error:") {
				t.Fatalf("no error message\n%s", r.stderr)
			}
			tr := parseTranscript(r.stderr)
			if l, ok := tr.sentAny("AUTH", "MAIL", "RCPT", "DATA", "BDAT", "<"); ok {
				t.Fatalf("sent %q although the certificate did not verify\n%s", l, r.stderr)
			}
			if st := tr.index(0, "C: STARTTLS"); st >= 0 && tr.index(st, "C: EHLO") >= 0 {
				t.Fatalf("EHLO after a failed STARTTLS handshake\n%s", r.stderr)
			}
		})
	}
}

// TestNoTLSRefusesPassword checks that with --tls none and a password,
// outbox does not log in over plaintext: Postfix offers no AUTH before TLS
// on the submission port, and outbox stops (exit 69) without sending the
// message, and without AUTH.
func TestNoTLSRefusesPassword(t *testing.T) {
	e := need(t)
	r := runOutbox(t, invocation{
		args:  []string{"send", "-S", e.Submission, "--tls", "none", "-u", e.User, "--password-env", "IT_PASSWORD", "-v", e.User2},
		env:   sendEnv(e.alice()),
		stdin: msg(newMark(t), []string{"From: " + e.User, "To: " + e.User2, "Subject: plaintext"}, "x"),
	})
	r.wantExit(t, 69)
	if l, ok := parseTranscript(r.stderr).sentAny("AUTH", "MAIL", "<"); ok {
		t.Fatalf("sent %q on a connection without TLS\n%s", l, r.stderr)
	}
}

// TestPlaintextRelay sends without TLS and without AUTH to the port that
// relays for 127.0.0.1 (--tls none --auth none): the explicit opt-out still
// delivers, byte for byte.
func TestPlaintextRelay(t *testing.T) {
	e := need(t)
	mark := newMark(t)
	sent := msg(mark, []string{"From: " + e.User, "To: someone@elsewhere.example", "Subject: relay"}, "relayed in plaintext")
	r := runOutbox(t, invocation{
		args:  []string{"send", "-S", e.Plain, "--tls", "none", "--auth", "none", "-f", e.User, "-v", "someone@elsewhere.example"},
		stdin: sent,
	})
	r.wantExit(t, 0)
	tr := parseTranscript(r.stderr)
	if l, ok := tr.sentAny("STARTTLS", "AUTH"); ok {
		t.Fatalf("sent %q with --tls none --auth none\n%s", l, r.stderr)
	}
	checkDelivered(t, waitDelivered(t, e.RelayMaildir, mark), sent)
}
