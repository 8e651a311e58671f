package integration

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

// TestLMTP delivers to Dovecot's LMTP service with the smtp package
// (Options.LMTP): a recipient Dovecot does not know is refused at RCPT, the
// two it knows each get their own reply after the data (RFC 2033 §4.2),
// matched to the right recipient, and two messages go over one connection,
// through BDAT and through DATA.
func TestLMTP(t *testing.T) {
	e := need(t)
	var trace bytes.Buffer
	c, err := smtp.Dial(e.LMTP, 10*time.Second, &smtp.Options{
		LMTP:      true,
		LocalName: "client.example.test",
		Trace:     &trace,
		Deadline:  time.Now().Add(2 * time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(); err != nil {
		t.Fatalf("LHLO: %v\n%s", err, trace.String())
	}
	if !c.Extensions().Has(smtp.ExtPipelining) || !c.Extensions().Has(smtp.ExtChunking) {
		t.Fatalf("Dovecot LMTP offers no PIPELINING or CHUNKING\n%s", trace.String())
	}

	for i, tr := range transfers {
		trace.Reset()
		mark := newMark(t) + tr.name
		sent := msg(mark, []string{"From: " + e.User, "To: " + e.User + ", " + e.User2, "Subject: LMTP " + tr.name,
			"MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"},
			"delivered by LMTP", ".a dot", ".", "8-bit: Grüße €")
		env := envelope(t, e.User, e.User, e.Unknown, e.User2)
		res, err := c.Send(env, bytes.NewReader(sent), &smtp.SendOptions{
			NoChunking: tr.name == "data",
			Quit:       i == len(transfers)-1,
		})
		if err != nil {
			t.Fatalf("%s: Send: %v\n%s", tr.name, err, trace.String())
		}
		if res.Chunked != (tr.name == "bdat") || !res.Pipelined {
			t.Fatalf("%s: chunked %v, pipelined %v", tr.name, res.Chunked, res.Pipelined)
		}
		if len(res.Recipients) != 3 || res.Accepted() != 2 {
			t.Fatalf("%s: %d results, %d accepted; want 3 and 2", tr.name, len(res.Recipients), res.Accepted())
		}
		for j, want := range []string{e.User, "", e.User2} {
			rr := res.Recipients[j]
			if want == "" {
				var se *smtp.Error
				if rr.Accepted() || !errors.As(rr.Err, &se) || se.Code != 550 || se.Enhanced != "5.1.1" {
					t.Fatalf("%s: unknown recipient: accepted %v, err %v; want a 550 5.1.1 refusal", tr.name, rr.Accepted(), rr.Err)
				}
				continue
			}
			// Dovecot's reply after the data names the recipient it is
			// for: "250 2.0.0 <alice@example.test> ID Saved".
			if !rr.Accepted() || rr.Reply.Code != 250 || !strings.Contains(rr.Reply.Text(), "<"+want+">") || !strings.Contains(rr.Reply.Text(), "Saved") {
				t.Fatalf("%s: %s: accepted %v, reply %d %q, err %v; want its own 250 ... Saved", tr.name, want, rr.Accepted(), rr.Reply.Code, rr.Reply.Text(), rr.Err)
			}
		}
		if res.QueueID == "" {
			t.Fatalf("%s: no queue id from %q", tr.name, res.Reply.Text())
		}
		// Two replies after the end of the data, one per accepted
		// recipient.
		lines := strings.Split(strings.TrimSpace(trace.String()), "\n")
		end := -1
		for k, l := range lines {
			if strings.Contains(l, " C: BDAT ") && strings.HasSuffix(l, " LAST") || strings.HasSuffix(l, " C: .") {
				end = k
			}
		}
		saved := 0
		for _, l := range lines[end+1:] {
			if strings.Contains(l, " S: 250 2.0.0 <") && strings.HasSuffix(l, " Saved") {
				saved++
			}
		}
		if end < 0 || saved != 2 {
			t.Fatalf("%s: want 2 \"Saved\" replies after the end of the data, got %d\n%s", tr.name, saved, trace.String())
		}
		for _, md := range []string{e.UserMaildir, e.User2Maildir} {
			hs := checkDelivered(t, waitDelivered(t, md, mark), sent)
			if rcv := field(hs, "Received"); !strings.Contains(rcv, "with LMTP") {
				t.Fatalf("%s: Received field %q does not say LMTP", tr.name, rcv)
			}
		}
	}
}
