package message

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Prepare says what to change in a header read from the user before it is
// sent. Fields not named here are never touched, so every other line goes
// out byte for byte.
type Prepare struct {
	// StripBcc removes Bcc and Resent-Bcc fields: their recipients are in
	// the envelope and must not be seen by the others (RFC 5322 §3.6.3).
	StripBcc bool
	// AddDate adds a Date field when there is none (RFC 5322 §3.6.1 requires
	// one), dated Now.
	AddDate bool
	// AddMessageID adds a Message-ID field when there is none (RFC 5322
	// §3.6.4), made by [NewMessageID].
	AddMessageID bool
	// MessageIDDomain is the right-hand side of an added Message-ID. When
	// it is empty the domain of the From address is used, and failing that
	// "localhost".
	MessageIDDomain string
	// AddFrom, if not nil, is written as the From field when there is none
	// (RFC 5322 §3.6.2 requires one).
	AddFrom *mail.Address
	// Now returns the time for Date; nil means [time.Now].
	Now func() time.Time
}

// Apply changes h as p says: removes Bcc and Resent-Bcc, then appends From,
// Date and Message-ID, each only when h has no such field. Added fields end
// in CRLF and come after the existing ones. An invalid AddFrom or
// MessageIDDomain is an error wrapping [ErrInvalidField], and then h is not
// changed.
func (p Prepare) Apply(h *Header) error {
	var add [][2]string
	if p.AddFrom != nil && !h.Has("From") {
		from, err := formatAddress(p.AddFrom)
		if err != nil {
			return fmt.Errorf("From: %w", err)
		}
		add = append(add, [2]string{"From", from})
	}
	if p.AddDate && !h.Has("Date") {
		now := time.Now
		if p.Now != nil {
			now = p.Now
		}
		add = append(add, [2]string{"Date", FormatDate(now())})
	}
	if p.AddMessageID && !h.Has("Message-ID") {
		domain := p.MessageIDDomain
		if domain == "" {
			domain = fromDomain(h, p.AddFrom)
		}
		if !isDotAtom(domain) {
			return fmt.Errorf("%w: Message-ID domain %q is not a dot-atom (RFC 5322 §3.6.4)", ErrInvalidField, domain)
		}
		add = append(add, [2]string{"Message-ID", NewMessageID(domain)})
	}
	for _, f := range add {
		if err := CheckField(f[0], f[1]); err != nil {
			return err
		}
	}
	if p.StripBcc {
		h.Del("Bcc")
		h.Del("Resent-Bcc")
	}
	for _, f := range add {
		_ = h.Add(f[0], f[1]) // checked above
	}
	return nil
}

// fromDomain is the domain of the message's From address, of from if the
// header has none, or "localhost".
func fromDomain(h *Header, from *mail.Address) string {
	addr := ""
	if list, err := h.Addresses("From", nil); err == nil && len(list) > 0 {
		addr = list[0].Address
	} else if from != nil {
		addr = from.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && isDotAtom(addr[i+1:]) {
		return addr[i+1:]
	}
	return "localhost"
}

// FormatDate formats t as an RFC 5322 §3.3 date-time, such as
// "Mon, 02 Jan 2006 15:04:05 -0700".
func FormatDate(t time.Time) string {
	return t.Format(time.RFC1123Z)
}

// idEncoding writes the random part of a Message-ID in characters that are
// all atext (RFC 5322 §3.2.3).
var idEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewMessageID returns a new msg-id "<random@domain>" (RFC 5322 §3.6.4).
// The left side is 120 random bits, so it is unique without keeping state
// and reveals nothing about the sender. domain is used as given; pass a
// dot-atom, such as the sender's domain.
func NewMessageID(domain string) string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (it panics instead)
	return "<" + idEncoding.EncodeToString(b[:]) + "@" + domain + ">"
}

// isDotAtom reports whether s is an RFC 5322 §3.2.3 dot-atom-text made of
// ASCII atext, as the right side of a msg-id must be without RFC 6532.
func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '.' && !isAtext(c) {
			return false
		}
	}
	return true
}

// isAtext reports whether c is RFC 5322 §3.2.3 atext in US-ASCII.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// formatAddress renders a as a mailbox (RFC 5322 §3.4). net/mail encodes a
// non-ASCII display name with RFC 2047 and writes a non-ASCII address as
// UTF-8 (RFC 6532). The result is parsed back to make sure it says the same
// address: an address with a line break or a missing domain is refused.
func formatAddress(a *mail.Address) (string, error) {
	if a == nil {
		return "", fmt.Errorf("%w: no address", ErrBadAddress)
	}
	for _, r := range a.Name + a.Address {
		if r < ' ' || r == 0x7f {
			return "", fmt.Errorf("%w: control character in %q", ErrBadAddress, a.Address)
		}
	}
	s := a.String()
	back, err := mail.ParseAddress(s)
	if err != nil || back.Address != a.Address {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, a.Address)
	}
	return s, nil
}
