package smtp

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits from RFC 5321 §4.5.3.1.1 to §4.5.3.1.3.
const (
	maxLocalPart = 64  // octets in a local part
	maxDomain    = 255 // octets in a domain
	maxPath      = 256 // octets in a path, "<" and ">" included
	maxLabel     = 63  // octets in a DNS label (RFC 1035 §2.3.4)
)

// Address is an envelope mailbox (RFC 5321 §4.1.2 Mailbox) or, as the zero
// value, the null reverse-path "<>".
//
// Local is the local part as a value: a quoted local part is stored without
// its quotes and backslashes, and [Address.String] quotes it again when it is
// not a dot-string. Domain is a domain name (ASCII or, per RFC 6531, UTF-8)
// or an address literal in brackets, as given.
//
// Use [ParseAddress] to build one from user input: an Address made by hand
// is not checked, and a Local or Domain holding CR, LF or other controls
// yields a path the client refuses to send.
type Address struct {
	Local, Domain string
}

// ParseAddress parses an envelope address: "user@example.org",
// "<user@example.org>", or "<>" and "" for the null reverse-path. It accepts
// dot-string and quoted local parts (RFC 5321 §4.1.2), domain names with
// UTF-8 labels (RFC 6531 §3.3) and address literals "[192.0.2.1]" and
// "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3). It refuses what could not be sent
// safely: controls, spaces outside quotes, "<" or ">" inside, source routes,
// a missing domain, bad domain labels, and parts over the RFC 5321 §4.5.3.1
// limits. Errors wrap [ErrBadInput].
func ParseAddress(s string) (Address, error) {
	if s == "" || s == "<>" {
		return Address{}, nil
	}
	// Cheap bound before any work; the exact limit is checked at the end.
	if len(s) > 4*maxPath {
		return Address{}, addrErr(s, "is longer than 256 octets (RFC 5321 §4.5.3.1.3)")
	}
	if err := checkAddrChars(s); err != nil {
		return Address{}, err
	}
	inner := s
	switch {
	case s[0] == '<':
		if s[len(s)-1] != '>' {
			if strings.IndexByte(s, '>') >= 0 {
				return Address{}, addrErr(s, "has text after the closing '>'")
			}
			return Address{}, addrErr(s, "has '<' without a closing '>'")
		}
		inner = s[1 : len(s)-1]
	case s[len(s)-1] == '>':
		return Address{}, addrErr(s, "has '>' without an opening '<'")
	}
	if inner == "" {
		return Address{}, addrErr(s, "is empty inside '<>'")
	}
	if inner[0] == '@' {
		// RFC 5321 §4.1.2 and appendix C: a client SHOULD NOT send source
		// routes; a relay would ignore them anyway.
		return Address{}, addrErr(s, "has a source route (\"@host:\"), which is not supported")
	}

	var a Address
	var rest string
	if inner[0] == '"' {
		local, n, err := parseQuotedLocal(s, inner)
		if err != nil {
			return Address{}, err
		}
		a.Local, rest = local, inner[n:]
	} else {
		at := strings.IndexByte(inner, '@')
		if at < 0 {
			at = len(inner)
		}
		if err := checkDotString(s, inner[:at]); err != nil {
			return Address{}, err
		}
		a.Local, rest = inner[:at], inner[at:]
	}
	if rest == "" || rest[0] != '@' {
		if rest != "" {
			return Address{}, addrErr(s, "has text after the quoted local part")
		}
		return Address{}, addrErr(s, "has no @domain")
	}
	a.Domain = rest[1:]
	if err := checkDomain(s, a.Domain); err != nil {
		return Address{}, err
	}
	if n := len(quoteLocal(a.Local)); n > maxLocalPart {
		return Address{}, addrErr(s, fmt.Sprintf("has a local part of %d octets, over 64 (RFC 5321 §4.5.3.1.1)", n))
	}
	if n := len(a.Path()); n > maxPath {
		return Address{}, addrErr(s, fmt.Sprintf("is %d octets with '<' and '>', over 256 (RFC 5321 §4.5.3.1.3)", n))
	}
	return a, nil
}

// String returns the mailbox as "local@domain", quoting the local part when
// it is not a dot-string, or "" for the null reverse-path.
func (a Address) String() string {
	if a.IsNull() {
		return ""
	}
	return quoteLocal(a.Local) + "@" + a.Domain
}

// Path returns the address as sent in MAIL FROM and RCPT TO: "<local@domain>",
// or "<>" for the null reverse-path (RFC 5321 §4.1.2 Reverse-path).
func (a Address) Path() string { return "<" + a.String() + ">" }

// IsNull reports whether a is the null reverse-path "<>".
func (a Address) IsNull() bool { return a.Local == "" && a.Domain == "" }

// NeedsSMTPUTF8 reports whether the address can only be sent with the
// SMTPUTF8 extension (RFC 6531 §3.4): its local part has non-ASCII
// characters. A non-ASCII domain alone does not need it, because its
// A-label form (see [Address.ASCII]) names the same domain.
func (a Address) NeedsSMTPUTF8() bool { return !isASCII(a.Local) }

// ASCII returns a with an internationalised domain converted to its A-label
// form (IDNA2008, the Lookup profile of golang.org/x/net/idna), for a server
// without SMTPUTF8. It reports false when that is not possible: the local
// part is not ASCII, the domain does not convert, or the converted path is
// over the RFC 5321 §4.5.3.1 limits.
func (a Address) ASCII() (Address, bool) {
	if a.NeedsSMTPUTF8() {
		return a, false
	}
	if isASCII(a.Domain) {
		return a, true
	}
	d, err := aLabels(a.Domain)
	if err != nil {
		return a, false
	}
	b := Address{Local: a.Local, Domain: d}
	if len(b.Path()) > maxPath {
		return a, false
	}
	return b, true
}

// aLabels converts a domain to A-labels and checks the DNS lengths that the
// idna Lookup profile leaves alone (RFC 1035 §2.3.4).
func aLabels(domain string) (string, error) {
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", err
	}
	if len(d) > maxDomain {
		return "", fmt.Errorf("its A-label form is %d octets, over 255", len(d))
	}
	for _, l := range strings.Split(d, ".") {
		if l == "" || len(l) > maxLabel {
			return "", fmt.Errorf("its A-label %q is empty or over 63 octets", l)
		}
	}
	return d, nil
}

// checkAddrChars refuses bytes that no path may carry, first of all those
// that would end or split the command line (RFC 5321 §2.3.8, §4.1.2: no
// controls in a Mailbox, even quoted).
func checkAddrChars(s string) error {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r':
			return addrErr(s, "has a CR (carriage return)")
		case c == '\n':
			return addrErr(s, "has a LF (line feed)")
		case c == 0:
			return addrErr(s, "has a NUL byte")
		case c < 0x20 || c == 0x7f:
			return addrErr(s, "has a control character")
		}
	}
	if !utf8.ValidString(s) {
		return addrErr(s, "is not valid UTF-8 (RFC 6531 §3.3)")
	}
	for _, r := range s {
		// C1 controls are UTF8-non-ascii by the grammar, but are never part
		// of a usable address and can disguise text on a terminal.
		if r >= 0x80 && r < 0xa0 {
			return addrErr(s, "has a control character")
		}
	}
	return nil
}

// isAtext reports whether c is atext (RFC 5322 §3.2.3, used by RFC 5321
// §4.1.2 Atom), extended by RFC 6531 §3.3 with all non-ASCII octets.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c >= 0x80:
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// checkDotString checks a local part written as a Dot-string:
// Atom *("." Atom) (RFC 5321 §4.1.2).
func checkDotString(s, local string) error {
	if local == "" {
		return addrErr(s, "has an empty local part")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch {
		case isAtext(c):
		case c == '.':
			switch {
			case i == 0:
				return addrErr(s, "has a local part that starts with a dot")
			case i == len(local)-1:
				return addrErr(s, "has a local part that ends with a dot")
			case local[i+1] == '.':
				return addrErr(s, "has two dots in a row in its local part")
			}
		case c == ' ':
			return addrErr(s, "has a space outside quotes")
		case c == '<' || c == '>':
			return addrErr(s, "has '<' or '>' inside")
		case c == '"':
			return addrErr(s, "has a quote inside an unquoted local part")
		default:
			return addrErr(s, fmt.Sprintf("has %q in its local part, which needs quoting", c))
		}
	}
	return nil
}

// parseQuotedLocal parses the Quoted-string at the start of inner (RFC 5321
// §4.1.2: qtextSMTP, quoted-pairSMTP; RFC 6531 §3.3 adds UTF-8). It returns
// the unquoted value and the length consumed. "<" and ">" are refused even
// quoted: the grammar allows them, but they invite other parsers to
// misread where the path ends.
func parseQuotedLocal(s, inner string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\\':
			// quoted-pairSMTP = %d92 %d32-126
			if i+1 >= len(inner) || inner[i+1] < 0x20 || inner[i+1] > 0x7e {
				return "", 0, addrErr(s, "has a backslash not followed by a printable ASCII character")
			}
			i++
			c = inner[i]
		}
		if c == '<' || c == '>' {
			return "", 0, addrErr(s, "has '<' or '>' inside")
		}
		b.WriteByte(c)
	}
	return "", 0, addrErr(s, "has an unterminated quoted local part")
}

// quoteLocal writes a local part value as a Dot-string when it is one, else
// as a Quoted-string with '"' and '\' escaped (RFC 5321 §4.1.2; RFC 5322
// §3.4.1: the dot-atom form SHOULD be used when possible).
func quoteLocal(local string) string {
	if isDotString(local) {
		return local
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(local); i++ {
		if c := local[i]; c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(local[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isDotString(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '.' && !isAtext(s[i]) {
			return false
		}
	}
	return true
}

// checkDomain checks a Domain or address-literal (RFC 5321 §4.1.2, §4.1.3),
// with U-labels allowed (RFC 6531 §3.3).
func checkDomain(s, d string) error {
	switch {
	case d == "":
		return addrErr(s, "has no domain after '@'")
	case len(d) > maxDomain:
		return addrErr(s, fmt.Sprintf("has a domain of %d octets, over 255 (RFC 5321 §4.5.3.1.2)", len(d)))
	case d[0] == '[':
		return checkAddressLiteral(s, d)
	case d[len(d)-1] == '.':
		return addrErr(s, "has a domain that ends with a dot")
	}
	needIDNA := false
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return addrErr(s, "has an empty domain label")
		}
		if len(label) > maxLabel {
			return addrErr(s, fmt.Sprintf("has domain label %q, longer than 63 octets", label))
		}
		if !isASCII(label) {
			needIDNA = true
			continue
		}
		if len(label) >= 4 && strings.EqualFold(label[:4], "xn--") {
			// An A-label must decode (RFC 5890 §2.3.2.1).
			needIDNA = true
		}
		// sub-domain = Let-dig [Ldh-str]; Ldh-str ends in Let-dig.
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			case c == '-':
				if i == 0 || i == len(label)-1 {
					return addrErr(s, fmt.Sprintf("has domain label %q, which starts or ends with a hyphen", label))
				}
			case c == ' ':
				return addrErr(s, "has a space outside quotes")
			case c == '<' || c == '>':
				return addrErr(s, "has '<' or '>' inside")
			case c == '@':
				return addrErr(s, "has more than one '@'")
			default:
				return addrErr(s, fmt.Sprintf("has %q in its domain, which is not allowed in a host name", c))
			}
		}
	}
	if needIDNA {
		if _, err := aLabels(d); err != nil {
			return addrErr(s, fmt.Sprintf("has a domain that is not a valid internationalised name (%v)", err))
		}
	}
	return nil
}

// checkAddressLiteral checks "[" ( IPv4-address-literal /
// IPv6-address-literal ) "]" (RFC 5321 §4.1.3). General-address-literal
// tags other than IPv6 have never been registered, so they are refused.
func checkAddressLiteral(s, d string) error {
	if len(d) < 2 || d[len(d)-1] != ']' {
		return addrErr(s, "has '[' without a closing ']'")
	}
	lit := d[1 : len(d)-1]
	if len(lit) >= 5 && strings.EqualFold(lit[:5], "IPv6:") {
		ip, err := netip.ParseAddr(lit[5:])
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return addrErr(s, "has an invalid IPv6 address literal")
		}
		return nil
	}
	if strings.ContainsRune(lit, ':') {
		return addrErr(s, "has an address literal with an unknown tag (only IPv6: is defined)")
	}
	// IPv4-address-literal = Snum 3("." Snum); Snum = 1*3DIGIT, 0 to 255.
	parts := strings.Split(lit, ".")
	if len(parts) != 4 {
		return addrErr(s, "has an invalid IPv4 address literal")
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 {
			return addrErr(s, "has an invalid IPv4 address literal")
		}
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return addrErr(s, "has an invalid IPv4 address literal")
			}
			n = n*10 + int(p[i]-'0')
		}
		if n > 255 {
			return addrErr(s, "has an invalid IPv4 address literal")
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// addrErr names the address (quoted, so controls show escaped, and cut
// short when long) and the problem.
func addrErr(s, problem string) error {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return fmt.Errorf("address %q %s: %w", s, problem, ErrBadInput)
}
