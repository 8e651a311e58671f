package smtp

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BodyType is the body type declared with MAIL FROM BODY= (RFC 6152, RFC 3030).
type BodyType string

const (
	// BodyAuto declares BODY=8BITMIME when the server offers it and allows
	// 8-bit bytes then; without it, an 8-bit byte is an error.
	BodyAuto BodyType = ""
	// Body7Bit declares nothing and allows only 7-bit bytes.
	Body7Bit BodyType = "7BIT"
	// Body8BitMIME requires the server's 8BITMIME.
	Body8BitMIME BodyType = "8BITMIME"
	// BodyBinaryMIME requires BINARYMIME and CHUNKING: the bytes go
	// unchanged, NUL and long lines included.
	BodyBinaryMIME BodyType = "BINARYMIME"
)

// Recipient is one RCPT TO with its DSN parameters (RFC 3461 §4).
type Recipient struct {
	Address Address
	// Notify is NEVER, or any of SUCCESS, FAILURE, DELAY (RFC 3461 §4.1).
	Notify []string
	// ORCPT is the original recipient address; it is sent xtext-encoded
	// with the rfc822 (or utf-8, RFC 6533) address type (RFC 3461 §4.2).
	ORCPT string
}

// Envelope is what MAIL FROM and RCPT TO carry for one message.
type Envelope struct {
	From       Address
	Recipients []Recipient
	// Size is the message size in octets for SIZE= (RFC 1870), when known.
	Size int64
	Body BodyType
	// UTF8 says the message's headers contain UTF-8 (RFC 6532), which needs
	// SMTPUTF8 even when every address is ASCII.
	UTF8 bool
	// RequireTLS asks for REQUIRETLS (RFC 8689): every hop must use TLS.
	RequireTLS bool
	// Return is the DSN RET parameter: "FULL" or "HDRS" (RFC 3461 §4.3).
	Return string
	// EnvID is the DSN ENVID parameter (RFC 3461 §4.4), sent xtext-encoded.
	EnvID string
}

// PartialPolicy says what to do when some recipients are refused.
type PartialPolicy int

const (
	// PartialContinue delivers to the accepted recipients and reports the
	// refused ones.
	PartialContinue PartialPolicy = iota
	// PartialAbort sends RSET before any data when any recipient is refused.
	PartialAbort
)

// SendOptions tune one [Client.Send].
type SendOptions struct {
	Partial PartialPolicy
	// MaxLineLength overrides the 998-octet line limit (negative: none).
	MaxLineLength int
	// RejectBareLineEndings refuses a bare CR or LF instead of turning it
	// into CRLF.
	RejectBareLineEndings bool
	// NoChunking uses DATA even when the server offers CHUNKING.
	NoChunking bool
	// ChunkSize is the BDAT chunk size (default [DefaultChunkSize]).
	ChunkSize int
	// Quit sends QUIT right after the end of the message, in the same write
	// when the server offers PIPELINING. The client is closed afterwards.
	Quit bool
}

// RcptResult is the fate of one recipient.
type RcptResult struct {
	Recipient Recipient
	// Reply is the server's reply to RCPT TO (or, for LMTP, to the data).
	Reply Reply
	// Err is the refusal ([*Error]) of this recipient, or nil when it was
	// accepted (and, for LMTP, delivered).
	Err error
}

// Accepted reports whether the recipient was accepted.
func (r RcptResult) Accepted() bool { return r.Err == nil && r.Reply.Code != 0 }

// Result describes one message transaction.
type Result struct {
	Recipients []RcptResult
	// Reply is the server's reply after the end of the data (for LMTP, the
	// first accepted recipient's).
	Reply Reply
	// QueueID is the identifier the server gave the message, when its reply
	// names one (see [QueueID]).
	QueueID string
	// Size is the number of message octets sent after encoding, Lines the
	// number of lines.
	Size  int64
	Lines int64
	// Chunked tells BDAT was used, Pipelined that PIPELINING was.
	Chunked   bool
	Pipelined bool
}

// Accepted counts the accepted recipients.
func (r *Result) Accepted() int {
	n := 0
	for _, rr := range r.Recipients {
		if rr.Accepted() {
			n++
		}
	}
	return n
}

// mailParams builds and checks the MAIL FROM line for env against the
// server's extensions: each parameter only when advertised, and a clear
// error when the message needs one that is missing.
func (c *Client) mailLine(env *Envelope) (line string, policy BodyPolicy, smtputf8 bool, err error) {
	ext := c.ext
	missing := func(what string) error {
		return fmt.Errorf("%w: %s", ErrExtensionMissing, what)
	}
	// SMTPUTF8 (RFC 6531 §3.4): needed for a UTF-8 local part or UTF-8
	// headers; a UTF-8 domain alone goes as its A-label when the server
	// lacks SMTPUTF8.
	smtputf8 = env.UTF8 || env.From.NeedsSMTPUTF8()
	for _, r := range env.Recipients {
		if r.Address.NeedsSMTPUTF8() {
			smtputf8 = true
		}
	}
	if smtputf8 && !ext.Has(ExtSMTPUTF8) {
		return "", policy, false, missing("the message has UTF-8 addresses or headers and the server does not offer SMTPUTF8")
	}
	from := env.From
	if !smtputf8 && !ext.Has(ExtSMTPUTF8) {
		if a, ok := from.ASCII(); ok {
			from = a
		}
	}
	var b strings.Builder
	b.WriteString("MAIL FROM:")
	b.WriteString(from.Path())

	// SIZE (RFC 1870 §4, §6): refuse before upload when over the limit.
	if limit, ok := ext.Size(); ok {
		if limit > 0 && env.Size > limit {
			return "", policy, false, fmt.Errorf("%w: %d octets, the server accepts at most %d", ErrMessageTooLarge, env.Size, limit)
		}
		if env.Size > 0 {
			b.WriteString(" SIZE=" + strconv.FormatInt(env.Size, 10))
		}
	}
	switch env.Body {
	case BodyAuto:
		if ext.Has(Ext8BitMIME) {
			b.WriteString(" BODY=8BITMIME")
			policy.Allow8Bit = true
		}
	case Body7Bit:
		if ext.Has(Ext8BitMIME) {
			b.WriteString(" BODY=7BIT")
		}
	case Body8BitMIME:
		if !ext.Has(Ext8BitMIME) {
			return "", policy, false, missing("the message has 8-bit data and the server does not offer 8BITMIME")
		}
		b.WriteString(" BODY=8BITMIME")
		policy.Allow8Bit = true
	case BodyBinaryMIME:
		if !ext.Has(ExtBinaryMIME) || !ext.Has(ExtChunking) {
			return "", policy, false, missing("the message is binary and the server does not offer BINARYMIME with CHUNKING")
		}
		b.WriteString(" BODY=BINARYMIME")
		policy.Binary = true
	default:
		return "", policy, false, fmt.Errorf("%w: unknown body type %q", ErrBadInput, env.Body)
	}
	if smtputf8 {
		b.WriteString(" SMTPUTF8")
		policy.Allow8Bit = true // RFC 6531 §3.1: SMTPUTF8 implies 8BITMIME
	}
	if env.RequireTLS {
		// RFC 8689 §4.1: only over TLS, only when advertised.
		if c.tls == nil || !ext.Has(ExtRequireTLS) {
			return "", policy, false, missing("REQUIRETLS was asked for and the server does not offer it over TLS")
		}
		b.WriteString(" REQUIRETLS")
	}
	if env.Return != "" || env.EnvID != "" {
		if !ext.Has(ExtDSN) {
			return "", policy, false, missing("delivery status notifications were asked for and the server does not offer DSN")
		}
		if env.Return != "" {
			ret := strings.ToUpper(env.Return)
			if ret != "FULL" && ret != "HDRS" {
				return "", policy, false, fmt.Errorf("%w: DSN RET must be FULL or HDRS, not %q", ErrBadInput, env.Return)
			}
			b.WriteString(" RET=" + ret)
		}
		if env.EnvID != "" {
			// RFC 3461 §4.4: at most 100 characters, xtext.
			if len(env.EnvID) > 100 {
				return "", policy, false, fmt.Errorf("%w: DSN ENVID longer than 100 characters", ErrBadInput)
			}
			b.WriteString(" ENVID=" + EncodeXtext(env.EnvID))
		}
	}
	return b.String(), policy, smtputf8, nil
}

// rcptLine builds the RCPT TO line for r.
func (c *Client) rcptLine(r Recipient, smtputf8 bool) (string, error) {
	to := r.Address
	if !smtputf8 {
		if a, ok := to.ASCII(); ok {
			to = a
		}
	}
	if to.IsNull() {
		return "", fmt.Errorf("%w: empty recipient address", ErrBadInput)
	}
	var b strings.Builder
	b.WriteString("RCPT TO:")
	b.WriteString(to.Path())
	if len(r.Notify) > 0 || r.ORCPT != "" {
		if !c.ext.Has(ExtDSN) {
			return "", fmt.Errorf("%w: delivery status notifications were asked for and the server does not offer DSN", ErrExtensionMissing)
		}
	}
	if len(r.Notify) > 0 {
		notify, err := notifyParam(r.Notify)
		if err != nil {
			return "", err
		}
		b.WriteString(" NOTIFY=" + notify)
	}
	if r.ORCPT != "" {
		b.WriteString(" ORCPT=" + orcptParam(r.ORCPT))
	}
	return b.String(), nil
}

// notifyParam checks NOTIFY values: NEVER alone, or a set of SUCCESS,
// FAILURE, DELAY (RFC 3461 §4.1).
func notifyParam(values []string) (string, error) {
	seen := map[string]bool{}
	var out []string
	for _, v := range values {
		v = strings.ToUpper(strings.TrimSpace(v))
		switch v {
		case "NEVER", "SUCCESS", "FAILURE", "DELAY":
		default:
			return "", fmt.Errorf("%w: DSN NOTIFY value %q (want NEVER, or SUCCESS, FAILURE, DELAY)", ErrBadInput, v)
		}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if seen["NEVER"] && len(out) > 1 {
		return "", fmt.Errorf("%w: DSN NOTIFY=NEVER cannot be combined with other values", ErrBadInput)
	}
	return strings.Join(out, ","), nil
}

// orcptParam encodes an original recipient: "rfc822;" + xtext for an ASCII
// address (RFC 3461 §4.2), "utf-8;" + utf-8-addr-xtext otherwise (RFC 6533
// §3: non-ASCII as \x{HEX}).
func orcptParam(addr string) string {
	ascii := true
	for i := 0; i < len(addr); i++ {
		if addr[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return "rfc822;" + EncodeXtext(addr)
	}
	var b strings.Builder
	b.WriteString("utf-8;")
	for _, r := range addr {
		switch {
		case r == '\\' || r == '+' || r == '=' || r < 0x21 || r >= 0x7f:
			fmt.Fprintf(&b, `\x{%X}`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// QueueID extracts the identifier a server gives an accepted message from
// its reply text: Postfix "queued as X", Exim "id=X", Sendmail and
// OpenSMTPD "X Message accepted for delivery", Gmail "OK X - gsmtp",
// Exchange "<X> [...] Queued mail for delivery", Dovecot LMTP "<user> X
// Saved". It returns "" when the text names none.
func QueueID(text string) string {
	f := strings.Fields(text)
	if len(f) > 0 && isDigit(f[0][0]) {
		if enh, _, ok := splitEnhanced(int(f[0][0]-'0')*100, f[0]); ok && enh == f[0] {
			f = f[1:] // an enhanced code the reader did not split off
		}
	}
	for i, w := range f {
		lw := strings.ToLower(w)
		switch {
		case lw == "as" && i > 0 && strings.EqualFold(f[i-1], "queued") && i+1 < len(f):
			return cleanID(f[i+1])
		case strings.HasPrefix(lw, "id="):
			return cleanID(w[3:])
		case lw == "message" && i > 0 && i+2 < len(f) && strings.EqualFold(f[i+1], "accepted"):
			return cleanID(f[i-1])
		case lw == "gsmtp" && i >= 2 && f[i-1] == "-":
			return cleanID(f[i-2])
		case lw == "saved" && i >= 1:
			return cleanID(f[i-1])
		case strings.HasPrefix(lw, "queued") && i > 0 && strings.HasPrefix(f[0], "<"):
			return cleanID(f[0])
		}
	}
	return ""
}

func cleanID(s string) string {
	s = strings.Trim(s, "<>()[],;.")
	if s == "" || len(s) > 128 {
		return ""
	}
	return Escape(s)
}

var _ = errors.Is
var _ io.Reader
