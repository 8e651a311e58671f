package integration

import (
	"slices"
	"strings"
	"testing"
)

// TestDSN asks for delivery status notifications (RFC 3461): NOTIFY on
// RCPT, RET and an ENVID that needs xtext encoding on MAIL. Postfix must
// have understood them: the sender receives a success report that carries
// the envelope id back, and, with RET=HDRS, only the message's header.
func TestDSN(t *testing.T) {
	e := need(t)
	mark := newMark(t)
	envid := "env+id=" + strings.Split(mark, "@")[0] // '+' and '=' must be xtext-encoded
	sent := msg(mark, []string{"From: " + e.User, "To: " + e.User2, "Subject: DSN " + mark}, "the body stays home with RET=HDRS")
	r := runOutbox(t, invocation{
		args: e.sendArgs(e.Submission, "starttls", e.alice(),
			"--dsn-notify", "success,failure", "--dsn-return", "headers", "--dsn-envid", envid, "-v", e.User2),
		env:   sendEnv(e.alice()),
		stdin: sent,
	})
	r.wantExit(t, 0)
	trs := parseTranscript(r.stderr)
	mail, _ := trs.sentAny("MAIL FROM:")
	wantEnvid := "ENVID=" + strings.NewReplacer("+", "+2B", "=", "+3D").Replace(envid)
	if f := strings.Fields(mail); !slices.Contains(f, "RET=HDRS") || !slices.Contains(f, wantEnvid) {
		t.Fatalf("MAIL FROM %q lacks RET=HDRS or %s", mail, wantEnvid)
	}
	if rcpt, _ := trs.sentAny("RCPT TO:"); rcpt != "RCPT TO:<"+e.User2+"> NOTIFY=SUCCESS,FAILURE" {
		t.Fatalf("RCPT line %q, want NOTIFY=SUCCESS,FAILURE", rcpt)
	}
	checkDelivered(t, waitDelivered(t, e.User2Maildir, mark), sent)

	report := string(waitDeliveredContent(t, e.UserMaildir, "Original-Envelope-Id: "+envid+"\n"))
	for _, want := range []string{
		"Subject: Successful Mail Delivery Report",
		"Original-Recipient: rfc822;" + e.User2,
		"Action: delivered",
		"Content-Type: text/rfc822-headers",
		"Subject: DSN " + mark,
	} {
		if !strings.Contains(report, want) {
			t.Fatalf("the delivery report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "the body stays home") {
		t.Fatalf("RET=HDRS, but the report returns the body:\n%s", report)
	}
}
