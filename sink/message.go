package sink

import (
	"bytes"
	"strings"
	"time"
)

// Message is one accepted message with its envelope.
type Message struct {
	// Seq numbers the messages a server accepted, from 1, in the order
	// they were stored.
	Seq int
	// ID is unique among the messages of all servers; Maildir file names
	// contain it.
	ID string
	// From is the reverse path of MAIL FROM, empty for the null sender <>.
	From string
	// To lists the accepted recipients in the order given.
	To []string
	// Rcpts has the DSN parameters of each recipient in To (RFC 3461).
	Rcpts []Recipient
	// Params holds the MAIL FROM parameters.
	Params MailParams
	// Data is the message exactly as received: dot-unstuffed after DATA
	// (RFC 5321 §4.5.2), or the chunks of BDAT joined (RFC 3030), without
	// the envelope lines a store adds.
	Data []byte
	// Size is len(Data).
	Size int64
	// Path is where the store put the message: a Maildir file, the mbox
	// file, or empty for a writer or memory.
	Path string
	// Helo is the name the client gave in EHLO, HELO or LHLO.
	Helo string
	// Remote is the client's address.
	Remote string
	// TLS reports whether the message came over TLS, implicit or after
	// STARTTLS.
	TLS bool
	// AuthUser is the user name the client authenticated as, or empty.
	AuthUser string
	// Received is when the data was complete.
	Received time.Time
}

// Recipient is one RCPT TO with its DSN parameters (RFC 3461 §4).
type Recipient struct {
	Address string
	// Notify is the NOTIFY list, such as ["SUCCESS", "FAILURE"], or nil.
	Notify []string
	// OriginalRecipient is ORCPT as "type;address", or empty.
	OriginalRecipient string
}

// MailParams are the MAIL FROM parameters the client gave.
type MailParams struct {
	// Size is the SIZE the client declared (RFC 1870), or zero.
	Size int64
	// Body is "7BIT", "8BITMIME", "BINARYMIME" or empty.
	Body string
	// SMTPUTF8 is set when the client asked for SMTPUTF8 (RFC 6531).
	SMTPUTF8 bool
	// Return is the DSN RET value, "FULL" or "HDRS", or empty.
	Return string
	// EnvelopeID is the DSN ENVID, decoded, or empty.
	EnvelopeID string
}

// Envelope returns the header lines a store writes before the message:
// Return-Path (RFC 5321 §4.4), then X-Original-To and Delivered-To for each
// recipient, as Postfix's local delivery does. The lines end as the
// message's first line does, CRLF or LF, so the file stays consistent.
func (m *Message) Envelope() []byte {
	eol := lineEnding(m.Data)
	var b bytes.Buffer
	b.WriteString("Return-Path: <" + headerSafe(m.From) + ">" + eol)
	for _, to := range m.To {
		b.WriteString("X-Original-To: " + headerSafe(to) + eol)
	}
	for _, to := range m.To {
		b.WriteString("Delivered-To: " + headerSafe(to) + eol)
	}
	return b.Bytes()
}

// lineEnding is "\r\n" unless the first line of data ends with a bare LF.
func lineEnding(data []byte) string {
	i := bytes.IndexByte(data, '\n')
	if i == 0 || i > 0 && data[i-1] != '\r' {
		return "\n"
	}
	return "\r\n"
}

// headerSafe drops the characters that would end or fold a header line: an
// address from the envelope must not inject headers.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return -1
		}
		return r
	}, s)
}
