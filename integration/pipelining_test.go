package integration

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestPipeliningAndQueueID checks that outbox uses PIPELINING and CHUNKING
// with Postfix as advertised: MAIL, both RCPTs and BDAT (or DATA) are
// written before the first reply comes back, Postfix counts the commands
// it expects, and the queue id outbox reports (--json queue_id) is the one
// Postfix logged and wrote into its Received field.
func TestPipeliningAndQueueID(t *testing.T) {
	e := need(t)
	for _, tr := range transfers {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			mark := newMark(t)
			sent := msg(mark, []string{"From: " + e.User, "To: " + e.User + ", " + e.User2, "Subject: pipelining"}, "one write, then the replies")
			args := append([]string{"--json", "-v"}, tr.flags...)
			r := runOutbox(t, invocation{
				args:  e.sendArgs(e.Submission, "starttls", e.alice(), append(args, e.User, e.User2)...),
				env:   sendEnv(e.alice()),
				stdin: sent,
			})
			r.wantExit(t, 0)
			trs := parseTranscript(r.stderr)
			mail := trs.index(0, "C: MAIL FROM:")
			rcpt1 := trs.index(mail, "C: RCPT TO:<"+e.User+">")
			rcpt2 := trs.index(mail, "C: RCPT TO:<"+e.User2+">")
			verb := trs.index(mail, "C: "+tr.verb)
			reply := trs.index(mail, "S: ")
			if mail < 0 || rcpt1 < 0 || rcpt2 < 0 || verb < 0 || reply < 0 {
				t.Fatalf("transcript lacks MAIL (%d), RCPTs (%d, %d), %s (%d) or a reply (%d)\n%s", mail, rcpt1, rcpt2, tr.verb, verb, reply, r.stderr)
			}
			if !(mail < rcpt1 && rcpt1 < rcpt2 && rcpt2 < verb && verb < reply) {
				t.Fatalf("not pipelined: MAIL at %d, RCPTs at %d and %d, %s at %d, first reply at %d\n%s", mail, rcpt1, rcpt2, tr.verb, verb, reply, strings.Join(trs, "\n"))
			}
			if tr.name == "bdat" {
				if l := trs[verb]; !strings.HasSuffix(l, " LAST") || strings.Count(strings.Join(trs.client(), "\n"), "BDAT ") != 1 {
					t.Fatalf("want one BDAT ... LAST for a small message, got %q\n%s", l, r.stderr)
				}
			}

			o := parseOutcome(t, r)
			qid := logQueueID(t, mark)
			if o.QueueID == "" || o.QueueID != qid {
				t.Fatalf("--json queue_id %q, Postfix logged %q", o.QueueID, qid)
			}
			final := fmt.Sprintf("queued as %s", qid)
			if !slices.ContainsFunc(trs, func(l string) bool { return strings.HasPrefix(l, "S: 250 2.0.0 ") && strings.HasSuffix(l, final) }) {
				t.Fatalf("no final reply ending in %q\n%s", final, r.stderr)
			}
			session := logSession(t, qid)
			for _, l := range session {
				if strings.Contains(l, "improper command pipelining") {
					t.Fatalf("Postfix saw improper pipelining: %s", l)
				}
			}
			counts := sessionCommands(t, session)
			want := map[string]string{"ehlo": "2", "starttls": "1", "auth": "1", "mail": "1", "rcpt": "2", "quit": "1"}
			if tr.name == "bdat" {
				want["bdat"] = "1"
			} else {
				want["data"] = "1"
			}
			for k, v := range want {
				if counts[k] != v {
					t.Fatalf("Postfix counted %s=%s, want %s (all: %v)", k, counts[k], v, counts)
				}
			}
			if counts["bdat"] != "" && counts["data"] != "" {
				t.Fatalf("both BDAT and DATA in one session: %v", counts)
			}
			for _, md := range []string{e.UserMaildir, e.User2Maildir} {
				hs := checkDelivered(t, waitDelivered(t, md, mark), sent)
				if _, id := receivedBy(t, hs); id != qid {
					t.Fatalf("Received field names queue id %s, want %s", id, qid)
				}
			}
		})
	}
}
