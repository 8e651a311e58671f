package auth

import (
	"encoding/json"
	"fmt"
	"strings"
)

// OAuthError is the error document an OAuth server sends as a challenge
// when it refuses a token (RFC 7628 §3.2.2; XOAUTH2 uses the same shape).
// It matches [ErrAuthFailed].
type OAuthError struct {
	Mechanism string // XOAUTH2 or OAUTHBEARER
	// Status is the error code: an RFC 6750 §3.1 name such as
	// "invalid_token" (OAUTHBEARER) or an HTTP status such as "401"
	// (XOAUTH2).
	Status string
	// Scope is the scope the token needs, when the server says.
	Scope string
	// Schemes lists the token schemes the server accepts (XOAUTH2).
	Schemes string
	// OpenIDConfiguration is the URL of the server's OpenID Connect
	// discovery document (RFC 7628 §3.2.2).
	OpenIDConfiguration string
	// Raw is the challenge as received, escaped and shortened, when it was
	// not a JSON object.
	Raw string
}

func (e *OAuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the server refused the token", e.Mechanism)
	if e.Status != "" {
		fmt.Fprintf(&b, ": status %s", e.Status)
	}
	if e.Scope != "" {
		fmt.Fprintf(&b, ", scope %s", e.Scope)
	}
	if e.Schemes != "" {
		fmt.Fprintf(&b, ", schemes %s", e.Schemes)
	}
	if e.OpenIDConfiguration != "" {
		fmt.Fprintf(&b, ", openid-configuration %s", e.OpenIDConfiguration)
	}
	if e.Raw != "" {
		fmt.Fprintf(&b, ": %q", e.Raw)
	}
	return b.String()
}

// Is makes an OAuthError match [ErrAuthFailed].
func (e *OAuthError) Is(target error) bool { return target == ErrAuthFailed }

// parseOAuthError reads an error challenge. Anything that is not a JSON
// object is kept, escaped, in Raw: the exchange continues either way, since
// the server is waiting for the client's answer (RFC 7628 §3.2.3).
func parseOAuthError(mech string, challenge []byte) *OAuthError {
	e := &OAuthError{Mechanism: mech}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(challenge, &doc); err != nil {
		e.Raw = excerpt(challenge)
		return e
	}
	e.Status = jsonText(doc["status"])
	e.Scope = jsonText(doc["scope"])
	e.Schemes = jsonText(doc["schemes"])
	e.OpenIDConfiguration = jsonText(doc["openid-configuration"])
	if e.Status == "" && e.Scope == "" && e.Schemes == "" && e.OpenIDConfiguration == "" {
		e.Raw = excerpt(challenge)
	}
	return e
}

// jsonText renders a JSON string or number for the user, escaped and
// bounded; other values are left out.
func jsonText(v json.RawMessage) string {
	if len(v) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return excerpt([]byte(s))
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err == nil {
		return excerpt([]byte(n.String()))
	}
	return ""
}

// checkToken checks that a bearer token is a b64token (RFC 6750 §2.1), so
// that it can neither break the mechanism's framing (%x01) nor carry
// anything else.
func checkToken(mech, token string) error {
	if token == "" {
		return fmt.Errorf("%w: %s: the OAuth 2.0 token is empty", ErrBadCredential, mech)
	}
	i := 0
	for ; i < len(token); i++ {
		c := token[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			break
		}
	}
	for ; i < len(token) && token[i] == '='; i++ {
	}
	if i != len(token) || token[0] == '=' {
		return fmt.Errorf("%w: %s: the OAuth 2.0 token holds characters a bearer token cannot have (RFC 6750 §2.1)", ErrBadCredential, mech)
	}
	return nil
}

// oauthExchange is what XOAUTH2 and OAUTHBEARER share: an initial response
// carrying the token, and the error flow.
type oauthExchange struct {
	mech string
	// abort is the client's answer to an error challenge: empty for
	// XOAUTH2, %x01 for OAUTHBEARER (RFC 7628 §3.2.3).
	abort []byte

	started  bool
	message  []byte
	replayed bool
	failure  *OAuthError
	steps
}

// next answers a challenge after the initial response. An empty one asks
// for the initial response that AUTH did not carry; a non-empty one is the
// server's error document, answered so that the server can finish with its
// failure reply; a challenge after that is out of place.
func (x *oauthExchange) next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if x.message == nil {
		return nil, errNotStarted(x.mech)
	}
	if x.failure != nil {
		return nil, fmt.Errorf("%w: %s: the server sent another challenge after its error: %q", ErrBadChallenge, x.mech, excerpt(challenge))
	}
	if len(challenge) == 0 && !x.replayed {
		x.replayed = true
		x.replayInitial(true)
		return x.message, nil
	}
	x.failure = parseOAuthError(x.mech, challenge)
	x.add(false)
	return append([]byte{}, x.abort...), nil
}

// Verify returns the server's error document as an [*OAuthError] when the
// server sent one, and nil otherwise.
func (x *oauthExchange) Verify() error {
	if x.failure != nil {
		return x.failure
	}
	return nil
}
