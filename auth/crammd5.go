package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"fmt"
)

// CRAMMD5 is the CRAM-MD5 mechanism (RFC 2195): the server sends a
// challenge and the client answers with its user name and the keyed MD5
// digest of the challenge. The password does not cross the network, but
// the answer allows an offline guessing attack, so it is secret in the
// transcript (RFC 2195 §5).
type CRAMMD5 struct {
	user     string
	password SecretSource

	started  bool
	ready    bool
	pass     string
	answered bool
	steps
}

// NewCRAMMD5 returns a CRAM-MD5 client.
func NewCRAMMD5(user string, password SecretSource) *CRAMMD5 {
	return &CRAMMD5{user: user, password: password}
}

// Start reads the password; CRAM-MD5 has no initial response.
func (m *CRAMMD5) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart("CRAM-MD5")
	}
	m.started = true
	pass, err := readSecret(m.password, "password")
	if err != nil {
		return "", nil, err
	}
	if m.user == "" {
		return "", nil, fmt.Errorf("%w: CRAM-MD5 needs a user name", ErrBadCredential)
	}
	m.pass = pass
	m.ready = true
	return "CRAM-MD5", nil, nil
}

// Next answers the server's challenge: user SP lowercase-hex HMAC-MD5
// (RFC 2195 §2). A second challenge, or an empty one, is an error.
func (m *CRAMMD5) Next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if !m.ready {
		return nil, errNotStarted("CRAM-MD5")
	}
	if m.answered {
		return nil, fmt.Errorf("%w: CRAM-MD5 has a single challenge, but the server sent another: %q", ErrBadChallenge, excerpt(challenge))
	}
	if len(challenge) == 0 {
		return nil, fmt.Errorf("%w: empty CRAM-MD5 challenge (RFC 2195 §2 requires a unique string)", ErrBadChallenge)
	}
	m.answered = true
	mac := hmac.New(md5.New, []byte(m.pass))
	mac.Write(challenge)
	m.pass = ""
	m.add(true)
	return []byte(m.user + " " + hex.EncodeToString(mac.Sum(nil))), nil
}
