package auth

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// serverFirst is a parsed server-first-message (RFC 5802 §7).
type serverFirst struct {
	nonce string // the whole nonce: the client's followed by the server's
	salt  []byte
	iter  int
}

// maxIterDigits bounds the iteration count's text before it is parsed, so
// that no digit string can overflow.
const maxIterDigits = 10

// parseServerFirst parses
//
//	server-first-message = [reserved-mext ","] nonce "," salt ","
//	                       iteration-count ["," extensions]
//
// (RFC 5802 §7). A mandatory extension (m=) is refused, since this client
// implements none (RFC 5802 §5.1: the client must fail on one it does not
// understand). Optional extensions are checked for form and ignored.
func parseServerFirst(msg string) (serverFirst, error) {
	var sf serverFirst
	if !utf8.ValidString(msg) {
		return sf, fmt.Errorf("%w: SCRAM server-first message is not UTF-8", ErrBadChallenge)
	}
	if strings.HasPrefix(msg, "m=") {
		return sf, fmt.Errorf("%w: SCRAM server requires an extension this client does not implement (RFC 5802 §5.1)", ErrBadChallenge)
	}
	fields := strings.Split(msg, ",")
	if len(fields) < 3 {
		return sf, fmt.Errorf("%w: SCRAM server-first message has %d fields, want nonce, salt and iteration count (RFC 5802 §7)", ErrBadChallenge, len(fields))
	}
	nonce, ok := strings.CutPrefix(fields[0], "r=")
	if !ok || nonce == "" || !isPrintable(nonce) {
		return sf, fmt.Errorf("%w: SCRAM server-first message lacks a valid nonce (r=) (RFC 5802 §7)", ErrBadChallenge)
	}
	salt64, ok := strings.CutPrefix(fields[1], "s=")
	if !ok || salt64 == "" {
		return sf, fmt.Errorf("%w: SCRAM server-first message lacks a salt (s=) (RFC 5802 §7)", ErrBadChallenge)
	}
	salt, err := base64.StdEncoding.Strict().DecodeString(salt64)
	if err != nil || !isBase64String(salt64) {
		return sf, fmt.Errorf("%w: SCRAM salt is not base64 (RFC 5802 §7)", ErrBadChallenge)
	}
	iter, ok := strings.CutPrefix(fields[2], "i=")
	if !ok || !isPositNumber(iter) {
		return sf, fmt.Errorf("%w: SCRAM server-first message lacks a valid iteration count (i=) (RFC 5802 §7)", ErrBadChallenge)
	}
	if len(iter) > maxIterDigits {
		return sf, fmt.Errorf("%w: SCRAM iteration count %s... is absurd", ErrBadChallenge, iter[:maxIterDigits])
	}
	n, err := strconv.ParseInt(iter, 10, 64)
	if err != nil || n > 1<<31-1 {
		return sf, fmt.Errorf("%w: SCRAM iteration count %s is absurd", ErrBadChallenge, iter)
	}
	if err := checkExtensions(fields[3:]); err != nil {
		return sf, err
	}
	return serverFirst{nonce: nonce, salt: salt, iter: int(n)}, nil
}

// serverFinal is a parsed server-final-message (RFC 5802 §7): either a
// verifier or a server error.
type serverFinal struct {
	verifier []byte
	err      string
}

// parseServerFinal parses
//
//	server-final-message = (server-error / verifier) ["," extensions]
//
// (RFC 5802 §7).
func parseServerFinal(msg string) (serverFinal, error) {
	var sf serverFinal
	if !utf8.ValidString(msg) {
		return sf, fmt.Errorf("%w: SCRAM server-final message is not UTF-8", ErrBadChallenge)
	}
	fields := strings.Split(msg, ",")
	if err := checkExtensions(fields[1:]); err != nil {
		return sf, err
	}
	if e, ok := strings.CutPrefix(fields[0], "e="); ok {
		if e == "" || strings.ContainsRune(e, '=') {
			return sf, fmt.Errorf("%w: SCRAM server error value is malformed (RFC 5802 §7)", ErrBadChallenge)
		}
		sf.err = e
		return sf, nil
	}
	v, ok := strings.CutPrefix(fields[0], "v=")
	if !ok || v == "" {
		return sf, fmt.Errorf("%w: SCRAM server-final message has neither a verifier (v=) nor an error (e=) (RFC 5802 §7)", ErrBadChallenge)
	}
	verifier, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || !isBase64String(v) {
		return sf, fmt.Errorf("%w: SCRAM verifier is not base64 (RFC 5802 §7)", ErrBadChallenge)
	}
	sf.verifier = verifier
	return sf, nil
}

// checkExtensions checks optional extensions for the attr-val form
// (ALPHA "=" 1*value-char, RFC 5802 §7); their meaning is ignored, as
// RFC 5802 §5.1 requires for unknown optional attributes.
func checkExtensions(fields []string) error {
	for _, f := range fields {
		if len(f) < 3 || !isAlpha(f[0]) || f[1] != '=' || strings.ContainsRune(f[2:], '=') {
			return fmt.Errorf("%w: SCRAM attribute %q is malformed (RFC 5802 §7)", ErrBadChallenge, excerpt([]byte(f)))
		}
	}
	return nil
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isPrintable reports whether s is 1*printable: ASCII 0x21-0x7E except ","
// (RFC 5802 §7 with erratum 2651).
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return s != ""
}

// isPositNumber reports whether s is %x31-39 *DIGIT: no sign, no leading
// zero (RFC 5802 §7).
func isPositNumber(s string) bool {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isBase64String reports whether s uses only the base64 alphabet and
// padding; the strict decoder also skips CR and LF, which are not allowed
// here.
func isBase64String(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBase64Char(s[i]) {
			return false
		}
	}
	return true
}

// encodeSaslname escapes "," and "=" as RFC 5802 §5.1 requires for user
// names and authorization identities.
func encodeSaslname(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}
