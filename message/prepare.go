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
	// QualifyDomain, if not empty, is appended after "@" to every bare
	// local name in From, Sender, Reply-To, To, Cc and their Resent- forms,
	// so that cron's "To: root" does not leave the host unqualified; this
	// is what Postfix does to mail submitted through its sendmail
	// (append_at_myorigin). Only fields holding such a name are rewritten,
	// and refolded; aliases are for the envelope and are not applied here.
	QualifyDomain string
}

// qualifiedFields are the address fields that QualifyDomain rewrites.
var qualifiedFields = map[string]bool{
	"from": true, "sender": true, "reply-to": true, "to": true, "cc": true,
	"resent-from": true, "resent-sender": true, "resent-to": true, "resent-cc": true,
}

// Apply changes h as p says: removes Bcc and Resent-Bcc, qualifies bare
// local names, then appends From, Date and Message-ID, each only when h has
// no such field. Added fields end in CRLF and come after the existing ones.
// An invalid AddFrom, MessageIDDomain or QualifyDomain is an error wrapping
// [ErrInvalidField], and then h is not changed.
func (p Prepare) Apply(h *Header) error {
	if p.QualifyDomain != "" && !isDotAtom(p.QualifyDomain) {
		return fmt.Errorf("%w: domain %q is not a dot-atom (RFC 5322 §3.4.1)", ErrInvalidField, p.QualifyDomain)
	}
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
	if p.QualifyDomain != "" {
		for i, f := range h.fields {
			if !qualifiedFields[strings.ToLower(f.Name())] {
				continue
			}
			if v, changed := qualifyList(f.Value(), p.QualifyDomain); changed {
				h.fields[i].raw = fold(f.Name(), v)
			}
		}
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

// qualifyList appends "@" and domain to each bare local name in an address
// list value, leaving everything else, display names and comments included,
// as it is. It reports whether anything changed.
func qualifyList(value, domain string) (string, bool) {
	var ends []int // where "@domain" goes, in increasing order
	for _, span := range splitAddressList(value) {
		item := value[span[0]:span[1]]
		if _, err := addressParser.Parse(item); err == nil {
			continue
		}
		if end := bareLocalEnd(item); end >= 0 {
			ends = append(ends, span[0]+end)
		}
	}
	if len(ends) == 0 {
		return value, false
	}
	var b strings.Builder
	last := 0
	for _, e := range ends {
		b.WriteString(value[last:e])
		b.WriteString("@" + domain)
		last = e
	}
	b.WriteString(value[last:])
	return b.String(), true
}

// bareLocalEnd returns the offset in item just after its addr-spec when that
// is a bare local name, as in "root", "root (Cron Daemon)" or
// "Cron Daemon <root>", or -1.
func bareLocalEnd(item string) int {
	if lt := indexUnquoted(item, '<'); lt >= 0 {
		gt := strings.LastIndexByte(item, '>')
		if gt < lt {
			return -1
		}
		spec := strings.TrimRight(item[lt+1:gt], " \t")
		if !isBareLocal(strings.TrimSpace(spec)) {
			return -1
		}
		return lt + 1 + len(spec)
	}
	spec := strings.TrimSpace(stripComments(item))
	if !isBareLocal(spec) {
		return -1
	}
	// The name must stand in one piece, after any leading comments.
	start := skipCFWS(item)
	if !strings.HasPrefix(item[start:], spec) {
		return -1
	}
	return start + len(spec)
}

// skipCFWS returns the offset of the first octet of s that is neither white
// space nor inside a comment (RFC 5322 §3.2.2).
func skipCFWS(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth > 0 || isSpace(c):
		default:
			return i
		}
	}
	return len(s)
}
