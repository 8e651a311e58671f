package smtp

import (
	"fmt"
	"strings"
)

// RFC 3461 §4 defines xtext for the values of ENVID and ORCPT, which may
// hold octets an esmtp-value cannot (RFC 5321 §4.1.2: no SP, "=" or
// controls):
//
//	xtext   = *( xchar / hexchar )
//	xchar   = any ASCII CHAR between "!" (33) and "~" (126) inclusive,
//	          except for "+" and "="
//	hexchar = ASCII "+" immediately followed by two upper case
//	          hexadecimal digits

const upperHex = "0123456789ABCDEF"

// isXchar reports whether c may stand for itself in xtext.
func isXchar(c byte) bool { return c >= '!' && c <= '~' && c != '+' && c != '=' }

// EncodeXtext encodes the octets of s as xtext (RFC 3461 §4): every octet
// that is not an xchar becomes "+" and two upper-case hex digits. The result
// holds only printable ASCII and never "=", so it is safe in an ESMTP
// parameter.
func EncodeXtext(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isXchar(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isXchar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('+')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// DecodeXtext decodes xtext (RFC 3461 §4). It is strict, as the grammar is:
// "+" must be followed by two upper-case hex digits, and any other octet must
// be an xchar. Errors wrap [ErrBadInput].
func DecodeXtext(s string) (string, error) {
	if strings.IndexByte(s, '+') < 0 {
		for i := 0; i < len(s); i++ {
			if !isXchar(s[i]) {
				return "", xtextErr(s, i, "is not allowed")
			}
		}
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", xtextErr(s, i, "needs two hex digits after it")
			}
			hi, ok1 := unhexUpper(s[i+1])
			lo, ok2 := unhexUpper(s[i+2])
			if !ok1 || !ok2 {
				return "", xtextErr(s, i, "is not followed by two upper-case hex digits")
			}
			b = append(b, hi<<4|lo)
			i += 2
		case isXchar(c):
			b = append(b, c)
		default:
			return "", xtextErr(s, i, "is not allowed")
		}
	}
	return string(b), nil
}

func unhexUpper(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func xtextErr(s string, i int, what string) error {
	return fmt.Errorf("xtext %q: %q at offset %d %s (RFC 3461 §4): %w", s, s[i:i+1], i, what, ErrBadInput)
}
