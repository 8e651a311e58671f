package auth

import (
	"fmt"
	"strings"
)

// Plain is the PLAIN mechanism (RFC 4616): one message holding the
// authorization identity, the user name and the password, separated by NUL.
// It sends the password in clear, so [Choose] uses it only over TLS unless
// the account allows otherwise. Every message it sends is secret.
type Plain struct {
	authzid, user string
	password      SecretSource

	started  bool
	replayed bool
	message  []byte
	steps
}

// NewPlain returns a PLAIN client. An empty authzid asks the server to
// derive the authorization identity from the user name (RFC 4616 §2).
func NewPlain(authzid, user string, password SecretSource) *Plain {
	return &Plain{authzid: authzid, user: user, password: password}
}

// Start reads the password and returns the whole message as the initial
// response.
func (m *Plain) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart("PLAIN")
	}
	m.started = true
	pass, err := readSecret(m.password, "password")
	if err != nil {
		return "", nil, err
	}
	// RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd, and
	// no field may contain NUL.
	for _, f := range []struct{ name, v string }{{"authorization identity", m.authzid}, {"user name", m.user}, {"password", pass}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return "", nil, fmt.Errorf("%w: the %s contains a NUL byte, which PLAIN cannot carry (RFC 4616 §2)", ErrBadCredential, f.name)
		}
	}
	if m.user == "" || pass == "" {
		return "", nil, fmt.Errorf("%w: PLAIN needs a non-empty user name and password (RFC 4616 §2)", ErrBadCredential)
	}
	m.message = []byte(m.authzid + "\x00" + m.user + "\x00" + pass)
	m.add(true)
	return "PLAIN", m.message, nil
}

// Next answers the empty challenge a server sends when AUTH carried no
// initial response (RFC 4422 §4, RFC 4954 §4) with the message; any other
// challenge is an error, since PLAIN has a single message.
func (m *Plain) Next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if !m.started || m.message == nil {
		return nil, errNotStarted("PLAIN")
	}
	if len(challenge) == 0 && !m.replayed {
		m.replayed = true
		m.replayInitial(true)
		return m.message, nil
	}
	return nil, fmt.Errorf("%w: PLAIN has no further step, but the server sent %q", ErrBadChallenge, excerpt(challenge))
}

func errRestart(mech string) error {
	return fmt.Errorf("%s: Start called twice; a mechanism serves one exchange", mech)
}

func errNotStarted(mech string) error {
	return fmt.Errorf("%s: Next called before a successful Start", mech)
}
