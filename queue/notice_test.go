package queue

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"

	"github.com/outbox-smtp/outbox/smtp"
)

func TestNotice(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	env := testEnvelope("work", "bob@example.org", "dave@example.org")
	env.EnvID = "env-1"
	msg := "From: Alice <alice@example.org>\r\nSubject: =?utf-8?q?r=C3=A9sum=C3=A9?=\r\nMessage-ID: <n1@test>\r\nX-Long: a\r\n b\r\n\r\nsecret body\r\n"
	e := enqueue(t, q, env, msg)
	d := &fakeDialer{respond: func(env *smtp.Envelope, _ []byte) (*smtp.Result, error) {
		return refuse(env, map[string]int{"bob@example.org": 451, "dave@example.org": 550})
	}}
	for {
		rep := flush(t, q, d, nil)
		if len(rep.Failed) > 0 {
			break
		}
		got, _ := q.Get(e.ID)
		c.Advance(got.NextAttempt.Sub(c.Now()))
	}
	failed, err := q.Failed()
	if err != nil || len(failed) != 1 {
		t.Fatalf("failed = %v, %v", failed, err)
	}
	n, err := q.Notice(failed[0], &NoticeOptions{Hostname: "host.example"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Envelope.From != "" || n.Envelope.Account != "work" || len(n.Envelope.Recipients) != 1 || n.Envelope.Recipients[0].Address != "alice@example.org" {
		t.Errorf("notice envelope %+v", n.Envelope)
	}
	if _, err := n.Envelope.SMTP(); err != nil {
		t.Errorf("the notice envelope does not parse: %v", err)
	}
	m, err := mail.ReadMessage(bytes.NewReader(n.Message))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if subject != "Undelivered mail: résumé" || m.Header.Get("Auto-Submitted") != "auto-replied" ||
		m.Header.Get("From") != "Mail Delivery System <MAILER-DAEMON@host.example>" {
		t.Errorf("header %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q", m.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var parts []string
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = p
		if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
			r = quotedprintable.NewReader(p)
		}
		b, _ := io.ReadAll(r)
		parts = append(parts, string(b))
		types = append(types, p.Header.Get("Content-Type"))
	}
	if strings.Join(types, ",") != "text/plain; charset=utf-8,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts %v", types)
	}
	for _, want := range []string{"dave@example.org: RCPT TO:<dave@example.org> rejected: 550 5.1.1 refused", "Not delivered after 5 days of retries:", "bob@example.org: RCPT TO:<bob@example.org> rejected: 451", "Subject:    résumé"} {
		if !strings.Contains(parts[0], want) {
			t.Errorf("text part lacks %q:\n%s", want, parts[0])
		}
	}
	for _, want := range []string{"Reporting-MTA: dns; host.example", "Original-Envelope-Id: env-1", "Final-Recipient: rfc822; dave@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 refused", "Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 4.4.7"} {
		if !strings.Contains(parts[1], want) {
			t.Errorf("delivery-status lacks %q:\n%s", want, parts[1])
		}
	}
	if !strings.Contains(parts[2], "Message-ID: <n1@test>\r\nX-Long: a\r\n b\r\n") || strings.Contains(parts[2], "secret body") {
		t.Errorf("headers part:\n%s", parts[2])
	}

	ctx := t.Context()
	if err := q.MarkNotified(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.Get(e.ID); !got.Notified {
		t.Errorf("Notified not recorded")
	}
	failed[0].From = ""
	if _, err := q.Notice(failed[0], nil); !errors.Is(err, ErrNoSender) {
		t.Errorf("notice for the null sender: %v", err)
	}

}
