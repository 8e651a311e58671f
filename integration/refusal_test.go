package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPartialDelivery sends to a recipient Postfix knows and one it
// refuses at RCPT (unknown user).
func TestPartialDelivery(t *testing.T) {
	e := need(t)

	// By default the accepted recipient gets the message; the refused one
	// is reported, and the exit code says an address was unknown.
	t.Run("continue", func(t *testing.T) {
		t.Parallel()
		mark := newMark(t)
		sent := msg(mark, []string{"From: " + e.User, "To: " + e.User, "Subject: partial"}, "only alice gets this")
		r := runOutbox(t, invocation{
			args:  e.sendArgs(e.Submission, "starttls", e.alice(), "--json", "-v", e.User, e.Unknown),
			env:   sendEnv(e.alice()),
			stdin: sent,
		})
		r.wantExit(t, 67)
		o := parseOutcome(t, r)
		if o.Status != "partial" || o.QueueID == "" {
			t.Fatalf("status %q, queue id %q; want partial with a queue id\n%s", o.Status, o.QueueID, r.stdout)
		}
		checkRecipients(t, o, r, e.User, e.Unknown)
		if !strings.Contains(r.stderr, "outbox: error:") || !strings.Contains(r.stderr, e.Unknown) || !strings.Contains(r.stderr, "550") {
			t.Fatalf("the error does not name the refused recipient and the code\n%s", r.stderr)
		}
		if qid := logQueueID(t, mark); qid != o.QueueID {
			t.Fatalf("--json queue_id %q, Postfix logged %q", o.QueueID, qid)
		}
		checkDelivered(t, waitDelivered(t, e.UserMaildir, mark), sent)
	})

	// With --partial abort, nothing is sent once a recipient is refused.
	t.Run("abort", func(t *testing.T) {
		t.Parallel()
		r := runOutbox(t, invocation{
			args:  e.sendArgs(e.Submission, "starttls", e.alice(), "--partial", "abort", "--json", "-v", e.User, e.Unknown),
			env:   sendEnv(e.alice()),
			stdin: msg(newMark(t), []string{"From: " + e.User, "To: " + e.User, "Subject: abort"}, "nobody gets this"),
		})
		r.wantExit(t, 67)
		o := parseOutcome(t, r)
		if o.Status != "failed" || o.QueueID != "" {
			t.Fatalf("status %q, queue id %q; want failed without a queue id\n%s", o.Status, o.QueueID, r.stdout)
		}
		checkRecipients(t, o, r, e.User, e.Unknown)
		trs := parseTranscript(r.stderr)
		if l, ok := trs.sentAny("BDAT", "DATA", "<message data"); ok {
			t.Fatalf("sent %q although a recipient was refused and the policy is abort\n%s", l, r.stderr)
		}
		if _, ok := trs.sentAny("RSET"); !ok {
			t.Fatalf("no RSET after aborting the transaction\n%s", r.stderr)
		}
	})

	// Every recipient refused: nothing delivered, exit 67.
	t.Run("none-accepted", func(t *testing.T) {
		t.Parallel()
		r := runOutbox(t, invocation{
			args:  e.sendArgs(e.Submission, "starttls", e.alice(), "--json", "-v", e.Unknown),
			env:   sendEnv(e.alice()),
			stdin: msg(newMark(t), []string{"From: " + e.User, "To: " + e.Unknown, "Subject: nobody"}, "x"),
		})
		r.wantExit(t, 67)
		o := parseOutcome(t, r)
		if o.Status != "failed" || o.QueueID != "" {
			t.Fatalf("status %q, queue id %q; want failed without a queue id\n%s", o.Status, o.QueueID, r.stdout)
		}
		checkRecipients(t, o, r, "", e.Unknown)
	})
}

// checkRecipients checks the --json recipients: accepted (may be "") got
// 250, unknown got Postfix's 550 5.1.1.
func checkRecipients(t *testing.T, o *outcome, r result, accepted, unknown string) {
	t.Helper()
	for _, rc := range o.Recipients {
		switch rc.Address {
		case accepted:
			if !rc.Accepted || rc.Code != 250 {
				t.Fatalf("%s: accepted %v, code %d; want accepted with 250\n%s", rc.Address, rc.Accepted, rc.Code, r.stdout)
			}
			accepted = "-"
		case unknown:
			if rc.Accepted || rc.Code != 550 || rc.Enhanced != "5.1.1" || !strings.Contains(rc.Message, "User unknown") {
				t.Fatalf("%s: accepted %v, %d %s %q; want refused with 550 5.1.1 User unknown\n%s", rc.Address, rc.Accepted, rc.Code, rc.Enhanced, rc.Message, r.stdout)
			}
			unknown = "-"
		default:
			t.Fatalf("unexpected recipient %s in --json\n%s", rc.Address, r.stdout)
		}
	}
	if (accepted != "" && accepted != "-") || unknown != "-" {
		t.Fatalf("--json lacks a recipient\n%s", r.stdout)
	}
}

// TestSizeLimit sends to the port with message_size_limit=100000
// (OUTBOX_IT_SMALL). A message over the limit whose size outbox knows is
// refused before anything is uploaded (exit 65); one whose size it cannot
// know (a pipe) is refused by Postfix after the data; one under the limit
// is delivered.
func TestSizeLimit(t *testing.T) {
	e := need(t)
	big := func(t *testing.T, mark string, size int64) ([]byte, string) {
		var b bytes.Buffer
		b.Write(msg(mark, []string{"From: " + e.User, "To: " + e.User2, "Subject: size " + strconv.FormatInt(size, 10)}))
		line := strings.Repeat("x", 98) + "\r\n"
		for int64(b.Len()) < size {
			b.WriteString(line)
		}
		p := filepath.Join(t.TempDir(), "msg.eml")
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return b.Bytes(), p
	}
	over := e.SmallLimit * 2

	for _, how := range []string{"file-flag", "stdin-file"} {
		t.Run("over-limit-"+how, func(t *testing.T) {
			t.Parallel()
			_, path := big(t, newMark(t), over)
			inv := invocation{env: sendEnv(e.alice())}
			if how == "file-flag" {
				inv.args = e.sendArgs(e.Small, "starttls", e.alice(), "--json", "-v", "--file", path, e.User2)
			} else {
				inv.args = e.sendArgs(e.Small, "starttls", e.alice(), "--json", "-v", e.User2)
				inv.stdinFile = path
			}
			r := runOutbox(t, inv)
			r.wantExit(t, 65)
			trs := parseTranscript(r.stderr)
			if trs.index(0, "S: 250-SIZE "+strconv.FormatInt(e.SmallLimit, 10)) < 0 {
				t.Fatalf("the server did not advertise SIZE %d\n%s", e.SmallLimit, r.stderr)
			}
			if l, ok := trs.sentAny("BDAT", "DATA", "<message data", "RCPT"); ok {
				t.Fatalf("sent %q for a message over the advertised SIZE\n%s", l, r.stderr)
			}
			if !strings.Contains(r.stderr, "outbox: error:") || !strings.Contains(r.stderr, strconv.FormatInt(e.SmallLimit, 10)) {
				t.Fatalf("the error does not name the server's limit\n%s", r.stderr)
			}
		})
	}

	t.Run("over-limit-pipe", func(t *testing.T) {
		t.Parallel()
		sent, _ := big(t, newMark(t), over)
		r := runOutbox(t, invocation{
			args:  e.sendArgs(e.Small, "starttls", e.alice(), "--json", "-v", e.User2),
			env:   sendEnv(e.alice()),
			stdin: sent,
		})
		// Postfix's own refusal after the data: a permanent 552 5.3.4.
		r.wantExit(t, 69)
		o := parseOutcome(t, r)
		if o.Status != "failed" || o.Error == nil || o.Error.Code != 552 || o.Error.Enhanced != "5.3.4" || o.QueueID != "" {
			t.Fatalf("want failed with 552 5.3.4 and no queue id\n%s", r.stdout)
		}
	})

	t.Run("under-limit", func(t *testing.T) {
		t.Parallel()
		mark := newMark(t)
		sent, path := big(t, mark, e.SmallLimit/2)
		r := runOutbox(t, invocation{
			args: e.sendArgs(e.Small, "starttls", e.alice(), "-v", "--file", path, e.User2),
			env:  sendEnv(e.alice()),
		})
		r.wantExit(t, 0)
		mail, _ := parseTranscript(r.stderr).sentAny("MAIL FROM:")
		if !strings.Contains(mail, " SIZE="+strconv.Itoa(len(sent))) {
			t.Fatalf("MAIL FROM %q does not declare SIZE=%d", mail, len(sent))
		}
		checkDelivered(t, waitDelivered(t, e.User2Maildir, mark), sent)
	})
}
