package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Mechanism is the client side of one SASL exchange (RFC 4422 §3). A value
// serves a single attempt; choose or build a new one for each AUTH command.
//
// It satisfies the smtp package's SASLMechanism and SecretTeller interfaces.
type Mechanism interface {
	// Start returns the mechanism name as sent in AUTH and the initial
	// response. A nil ir means there is none; a non-nil empty ir is sent as
	// "=" (RFC 4954 §4). Start reads the secrets the mechanism needs, so an
	// error here means nothing has been sent yet.
	Start() (mech string, ir []byte, err error)
	// Next answers a server challenge, already base64-decoded. An error
	// means the exchange must be cancelled with "*" (RFC 4954 §4).
	Next(challenge []byte) (response []byte, err error)
	// IsSecret reports whether the client message of the given step may
	// not be shown in a transcript. Step 0 is the initial response, or the
	// first answer when there was none. Unknown steps are secret.
	IsSecret(step int) bool
}

// Verifier is implemented by mechanisms that know something about the
// outcome that the server's final reply does not say. Call Verify after the
// server's final reply to AUTH:
//
//   - after a 235 success, a non-nil error means the login must be treated
//     as failed: [SCRAM] returns [ErrServerNotVerified] unless it verified
//     the server signature (RFC 5802 §5.1, §9), or the error that made it
//     stop;
//   - after a failure reply, the error may explain it: [XOAuth2] and
//     [OAuthBearer] return the server's JSON error as an [*OAuthError]
//     (RFC 7628 §3.2.2).
//
// A nil error from Verify never turns a failure reply into a success.
type Verifier interface {
	Verify() error
}

// SecretSource yields a secret (a password or an OAuth 2.0 access token)
// when a mechanism needs it. It is called at most once per mechanism, from
// Start, so an interactive prompt happens only once a mechanism that needs
// the secret has been chosen.
type SecretSource func() (string, error)

// Sentinel errors. Test for them with [errors.Is]; they are wrapped with
// context, and a [*ChooseError] or [*OAuthError] matches several.
var (
	// ErrNoMechanism means the server offers no mechanism that may be used
	// with this account on this connection. Every [*ChooseError] matches
	// it; the CLI maps it to EX_UNAVAILABLE (69).
	ErrNoMechanism = errors.New("no usable authentication mechanism")
	// ErrNotOffered means a mechanism is not in the server's list. No
	// mechanism is ever tried that the server did not advertise
	// (RFC 4954 §3: the server lists the mechanisms it supports).
	ErrNotOffered = errors.New("not offered by the server")
	// ErrInsecure means a mechanism that sends a reusable secret (a
	// password or a bearer token) was refused on a connection without TLS,
	// because the account does not allow it (--allow-insecure-auth /
	// allow_insecure_auth = true).
	ErrInsecure = errors.New("would send a secret in clear without TLS")
	// ErrNoSecret means a mechanism needs a credential the account does
	// not have: a password, an OAuth 2.0 token, or a TLS client certificate.
	ErrNoSecret = errors.New("needs a credential the account does not have")
	// ErrNoChannelBinding means a -PLUS mechanism was wanted but this
	// connection yields no channel binding data (RFC 5056, RFC 5929,
	// RFC 9266).
	ErrNoChannelBinding = errors.New("no channel binding data on this connection")
	// ErrConfig marks an account configuration that can never work: an
	// unknown mechanism name, a configured mechanism without the secret it
	// needs, or no credentials at all.
	ErrConfig = errors.New("invalid authentication settings")
	// ErrBadChallenge marks a server challenge that is malformed, hostile
	// or out of place. The exchange is cancelled with "*".
	ErrBadChallenge = errors.New("malformed server challenge")
	// ErrChallengeTooLong marks a challenge over the size bound; it matches
	// ErrBadChallenge too.
	ErrChallengeTooLong = fmt.Errorf("%w: too long", ErrBadChallenge)
	// ErrAuthFailed means the mechanism itself saw the login fail: the
	// server could not prove it knows the password, sent a SCRAM error, or
	// rejected an OAuth token. The CLI maps it to EX_NOPERM (77).
	ErrAuthFailed = errors.New("authentication failed")
	// ErrServerNotVerified means a SCRAM server did not prove that it
	// knows the password (no valid server signature, RFC 5802 §9). It
	// matches ErrAuthFailed.
	ErrServerNotVerified = fmt.Errorf("%w: the server did not prove that it knows the password", ErrAuthFailed)
	// ErrBadCredential means a user name, password or token cannot be
	// carried by the mechanism: a NUL in a PLAIN field, a password that
	// SASLprep rejects, a token with characters outside RFC 6750 §2.1.
	ErrBadCredential = errors.New("credential cannot be used with this mechanism")
)

// MaxChallenge is the bound on a decoded challenge that every mechanism
// enforces, and the default for [DecodeChallenge]. The largest legitimate
// challenges here (a SCRAM server-first message, an OAuth error document)
// are far smaller; 9216 octets is what fits in the 12288-octet line
// RFC 4954 §4 sets for AUTH.
const MaxChallenge = 9216

// DecodeChallenge decodes the text of a 334 reply (RFC 4954 §4): strict
// standard base64 with padding, no whitespace, no line breaks, and zero
// padding bits. A lone "=" is read as an empty challenge. It refuses text
// that would decode to more than max octets before decoding it; max <= 0
// means [MaxChallenge]. Errors match [ErrBadChallenge].
func DecodeChallenge(line []byte, max int) ([]byte, error) {
	if max <= 0 {
		max = MaxChallenge
	}
	if len(line) > base64.StdEncoding.EncodedLen(max) {
		return nil, fmt.Errorf("%w (%d base64 characters, at most %d octets allowed)", ErrChallengeTooLong, len(line), max)
	}
	if len(line) == 1 && line[0] == '=' {
		return []byte{}, nil
	}
	// encoding/base64 skips CR and LF; a challenge is one line, so any byte
	// outside the alphabet is an error here.
	for i, c := range line {
		if !isBase64Char(c) {
			return nil, fmt.Errorf("%w: byte %#02x at offset %d is not base64", ErrBadChallenge, c, i)
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
	n, err := base64.StdEncoding.Strict().Decode(out, line)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid base64: %v", ErrBadChallenge, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w (%d octets, at most %d allowed)", ErrChallengeTooLong, n, max)
	}
	return out[:n], nil
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// checkChallenge applies the size bound every mechanism enforces, whatever
// decoded the challenge.
func checkChallenge(challenge []byte) error {
	if len(challenge) > MaxChallenge {
		return fmt.Errorf("%w (%d octets, at most %d allowed)", ErrChallengeTooLong, len(challenge), MaxChallenge)
	}
	return nil
}

// steps records, for each client message a mechanism produced, whether it
// holds a secret, so that IsSecret answers from what was actually sent.
type steps struct {
	secret []bool
}

func (s *steps) add(secret bool) { s.secret = append(s.secret, secret) }

// replayInitial records the initial response sent again in answer to an
// empty challenge. A server sends that challenge when AUTH carried no
// initial response (RFC 4422 §4 item 3, RFC 4954 §4), so the replay is the
// first message on the wire and takes step 0. If the server asked again
// after receiving it, later steps no longer line up with the caller's count;
// they then fall outside the record and read as secret.
func (s *steps) replayInitial(secret bool) { s.secret = []bool{secret} }

// IsSecret reports whether the client message of the given step holds a
// secret; steps the mechanism has not produced are secret.
func (s *steps) IsSecret(step int) bool {
	if step < 0 || step >= len(s.secret) {
		return true
	}
	return s.secret[step]
}

// readSecret calls a secret source once, naming what it was for.
func readSecret(src SecretSource, what string) (string, error) {
	if src == nil {
		return "", fmt.Errorf("%w: no %s configured", ErrNoSecret, what)
	}
	s, err := src()
	if err != nil {
		return "", fmt.Errorf("reading the %s: %w", what, err)
	}
	return s, nil
}

// escape makes server text safe to show on a terminal: control bytes,
// invalid UTF-8 and characters that can disguise text become escapes.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// excerpt returns an escaped, shortened copy of hostile text for an error
// message.
func excerpt(b []byte) string {
	const max = 64
	if len(b) > max {
		return escape(string(b[:max])) + "..."
	}
	return escape(string(b))
}
