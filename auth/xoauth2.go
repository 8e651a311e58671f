package auth

import (
	"fmt"
	"strings"
)

// XOAuth2 is the XOAUTH2 mechanism of Google and Microsoft (de facto; see
// Google's "OAuth 2.0 Mechanism" for IMAP and SMTP): one initial response
// carrying the user name and an OAuth 2.0 bearer token, which is secret.
//
// When the server refuses the token it sends a JSON error document as a 334
// challenge; the client answers with an empty response and the server
// replies 535. [XOAuth2.Verify] then returns the document as an
// [*OAuthError].
type XOAuth2 struct {
	user  string
	token SecretSource
	oauthExchange
}

// NewXOAuth2 returns an XOAUTH2 client.
func NewXOAuth2(user string, token SecretSource) *XOAuth2 {
	return &XOAuth2{user: user, token: token, oauthExchange: oauthExchange{mech: "XOAUTH2", abort: []byte{}}}
}

// Start reads the token and returns
//
//	"user=" user %x01 "auth=Bearer " token %x01 %x01
func (m *XOAuth2) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart(m.mech)
	}
	m.started = true
	if m.user == "" || strings.ContainsAny(m.user, "\x00\x01") {
		return "", nil, fmt.Errorf("%w: XOAUTH2 needs a user name without control bytes", ErrBadCredential)
	}
	token, err := readSecret(m.token, "OAuth 2.0 token")
	if err != nil {
		return "", nil, err
	}
	if err := checkToken(m.mech, token); err != nil {
		return "", nil, err
	}
	m.message = []byte("user=" + m.user + "\x01auth=Bearer " + token + "\x01\x01")
	m.add(true)
	return m.mech, m.message, nil
}

// Next answers the server's error challenge with an empty response.
func (m *XOAuth2) Next(challenge []byte) ([]byte, error) { return m.next(challenge) }
