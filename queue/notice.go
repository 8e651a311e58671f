package queue

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/message"
	"github.com/outbox-smtp/outbox/smtp"
)

// ErrNoSender means a failed entry has the null sender <>, to which no
// notice may be sent (RFC 5321 §4.5.5, §6.1: no notice about a notice).
var ErrNoSender = errors.New("the message has the null sender; no notice is sent")

// NoticeOptions shape a failure notice. The zero value is usable.
type NoticeOptions struct {
	// From is the From field, default "Mail Delivery System
	// <MAILER-DAEMON@Hostname>".
	From string
	// Hostname names the reporting host (default os.Hostname).
	Hostname string
}

// Notice is a failure notice ready to send: the envelope (null sender,
// the original sender as the only recipient, the entry's account) and
// the message.
type Notice struct {
	Envelope Envelope
	Message  []byte
}

// Notice builds the failure notice of a failed entry for its sender: an
// RFC 3464 delivery status notification (multipart/report) with a
// plain-text explanation, a machine-readable status per recipient and the
// header of the original message. After sending it, call
// [Queue.MarkNotified].
func (q *Queue) Notice(e *Entry, o *NoticeOptions) (*Notice, error) {
	if e.From == "" {
		return nil, ErrNoSender
	}
	if o == nil {
		o = &NoticeOptions{}
	}
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname()
		if host == "" {
			host = "localhost"
		}
	}
	from := o.From
	if from == "" {
		from = "Mail Delivery System <MAILER-DAEMON@" + host + ">"
	}
	now := q.now()
	var rnd [12]byte
	rand.Read(rnd[:])
	boundary := "=_outbox_" + hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	hdr := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	hdr("From", from)
	hdr("To", "<"+e.From+">")
	subject := "Undelivered mail"
	if e.Subject != "" {
		subject += ": " + e.Subject
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(rnd[:8])+"."+e.ID+"@"+host+">")
	// RFC 3834 §5: an automatic reply, so that responders stay quiet.
	hdr("Auto-Submitted", "auto-replied")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/report; report-type=delivery-status; boundary="`+boundary+`"`)
	b.WriteString("\r\n")

	// Part 1: for a human.
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n", boundary)
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(crlf(noticeText(e, host, q.retry.MaxAge))))
	qp.Close()
	b.WriteString("\r\n")

	// Part 2: RFC 3464 §2.2 per-message and §2.3 per-recipient fields.
	fmt.Fprintf(&b, "--%s\r\nContent-Type: message/delivery-status\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Reporting-MTA: dns; %s\r\n", host)
	if e.EnvID != "" {
		fmt.Fprintf(&b, "Original-Envelope-Id: %s\r\n", smtp.Escape(e.EnvID))
	}
	fmt.Fprintf(&b, "Arrival-Date: %s\r\n", e.Created.Format(time.RFC1123Z))
	for _, r := range e.Refused {
		b.WriteString("\r\n")
		status := r.Enhanced
		if status == "" {
			status = "5.0.0"
		}
		dsnRecipient(&b, r.Address, "failed", status, diagnostic(r), r.Time)
	}
	for _, r := range e.Recipients {
		// RFC 3463 §3.5: 4.4.7, delivery time expired.
		b.WriteString("\r\n")
		dsnRecipient(&b, r.Address, "failed", "4.4.7", r.LastError, e.LastAttempt)
	}
	b.WriteString("\r\n")

	// Part 3: the original header (RFC 3462 text/rfc822-headers).
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/rfc822-headers\r\n\r\n", boundary)
	if h := originalHeader(filepath.Join(e.dir, messageFile)); h != "" {
		b.WriteString(h)
	}
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)

	return &Notice{
		Envelope: Envelope{Account: e.Account, Recipients: []Recipient{{Address: e.From}}},
		Message:  b.Bytes(),
	}, nil
}

func dsnRecipient(b *bytes.Buffer, addr, action, status, diag string, last time.Time) {
	kind := "rfc822"
	if !isASCII(addr) {
		kind = "utf-8" // RFC 6533 §3
	}
	fmt.Fprintf(b, "Final-Recipient: %s; %s\r\n", kind, addr)
	fmt.Fprintf(b, "Action: %s\r\n", action)
	fmt.Fprintf(b, "Status: %s\r\n", status)
	if diag != "" {
		fmt.Fprintf(b, "Diagnostic-Code: smtp; %s\r\n", oneLine(diag))
	}
	if !last.IsZero() {
		fmt.Fprintf(b, "Last-Attempt-Date: %s\r\n", last.Format(time.RFC1123Z))
	}
}

// diagnostic is the Diagnostic-Code of a refusal (RFC 3464 §2.3.6): the
// server's reply when known, else the error.
func diagnostic(r Refusal) string {
	if r.Code == 0 {
		return r.Error
	}
	return strings.Join(strings.Fields(fmt.Sprintf("%d %s %s", r.Code, r.Enhanced, r.Text)), " ")
}

// oneLine makes s safe as a field value: no controls, no line breaks,
// ASCII only.
func oneLine(s string) string {
	s = smtp.Escape(strings.Join(strings.Fields(s), " "))
	var b strings.Builder
	for _, r := range s {
		if r >= 0x80 {
			fmt.Fprintf(&b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func noticeText(e *Entry, host string, maxAge time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "This is outbox on %s.\n\n", host)
	b.WriteString("Your message could not be delivered to all of its recipients.\n\n")
	fmt.Fprintf(&b, "  Queue ID:   %s\n", e.ID)
	if e.MessageID != "" {
		fmt.Fprintf(&b, "  Message-ID: %s\n", e.MessageID)
	}
	if e.Subject != "" {
		fmt.Fprintf(&b, "  Subject:    %s\n", e.Subject)
	}
	fmt.Fprintf(&b, "  Queued:     %s\n", e.Created.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "  Attempts:   %d\n", e.Attempts)
	if e.Reason != "" {
		fmt.Fprintf(&b, "  Reason:     %s\n", e.Reason)
	}
	if len(e.Refused) > 0 {
		b.WriteString("\nRefused by the server:\n")
		for _, r := range e.Refused {
			fmt.Fprintf(&b, "  %s: %s\n", r.Address, smtp.Escape(r.Error))
		}
	}
	if len(e.Recipients) > 0 {
		fmt.Fprintf(&b, "\nNot delivered after %s of retries:\n", formatAge(maxAge))
		for _, r := range e.Recipients {
			line := "  " + r.Address
			if r.LastError != "" {
				line += ": " + smtp.Escape(r.LastError)
			}
			b.WriteString(line + "\n")
		}
	}
	if len(e.Delivered) > 0 {
		b.WriteString("\nDelivered to:\n")
		for _, r := range e.Delivered {
			fmt.Fprintf(&b, "  %s\n", r.Address)
		}
	}
	b.WriteString("\nThe header of your message follows.\n")
	return b.String()
}

// crlf turns LF line endings into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// originalHeader reads the header section of the message in name, with
// CRLF line endings, or "" when it cannot be read.
func originalHeader(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	h, err := message.ReadHeader(bufio.NewReader(f))
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, fl := range h.Fields() {
		raw := strings.ReplaceAll(string(fl.Raw()), "\r\n", "\n")
		b.WriteString(crlf(raw))
		if !strings.HasSuffix(raw, "\n") {
			b.WriteString("\r\n")
		}
	}
	return b.String()
}
