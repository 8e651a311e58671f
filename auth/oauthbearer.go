package auth

import (
	"fmt"
	"strconv"
	"strings"
)

// OAuthBearer is the OAUTHBEARER mechanism (RFC 7628): one initial
// response carrying an OAuth 2.0 bearer token, which is secret.
//
// When the server refuses the token it sends a JSON error document as a 334
// challenge; the client answers with the single byte %x01 and the server
// replies 535 (RFC 7628 §3.2.3). [OAuthBearer.Verify] then returns the
// document as an [*OAuthError].
type OAuthBearer struct {
	user  string
	host  string
	port  int
	token SecretSource
	oauthExchange
}

// NewOAuthBearer returns an OAUTHBEARER client. The user goes in the gs2
// header as the authorization identity, which servers such as Gmail
// require; host and port, when given, tell the server which service the
// client meant (RFC 7628 §3.1), guarding against a token sent to the wrong
// one being replayed.
func NewOAuthBearer(user, host string, port int, token SecretSource) *OAuthBearer {
	return &OAuthBearer{user: user, host: host, port: port, token: token, oauthExchange: oauthExchange{mech: "OAUTHBEARER", abort: []byte{0x01}}}
}

// Start reads the token and returns (RFC 7628 §3.1)
//
//	gs2-header kvsep [ "host=" host kvsep ] [ "port=" port kvsep ]
//	"auth=Bearer " token kvsep kvsep
//
// with gs2-header "n,a=" saslname "," and kvsep %x01. Channel binding is
// not defined for OAUTHBEARER, hence the "n" flag.
func (m *OAuthBearer) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart(m.mech)
	}
	m.started = true
	if strings.ContainsAny(m.user, "\x00\x01") || strings.ContainsAny(m.host, "\x00\x01") {
		return "", nil, fmt.Errorf("%w: OAUTHBEARER: control bytes in the user name or host", ErrBadCredential)
	}
	if m.port < 0 || m.port > 65535 {
		return "", nil, fmt.Errorf("%w: OAUTHBEARER: port %d out of range", ErrConfig, m.port)
	}
	token, err := readSecret(m.token, "OAuth 2.0 token")
	if err != nil {
		return "", nil, err
	}
	if err := checkToken(m.mech, token); err != nil {
		return "", nil, err
	}
	var b strings.Builder
	b.WriteString("n,")
	if m.user != "" {
		b.WriteString("a=" + encodeSaslname(m.user))
	}
	b.WriteString(",\x01")
	if m.host != "" {
		b.WriteString("host=" + m.host + "\x01")
	}
	if m.port != 0 {
		b.WriteString("port=" + strconv.Itoa(m.port) + "\x01")
	}
	b.WriteString("auth=Bearer " + token + "\x01\x01")
	m.message = []byte(b.String())
	m.add(true)
	return m.mech, m.message, nil
}

// Next answers the server's error challenge with %x01 (RFC 7628 §3.2.3).
func (m *OAuthBearer) Next(challenge []byte) ([]byte, error) { return m.next(challenge) }
