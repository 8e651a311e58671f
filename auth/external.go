package auth

import "fmt"

// External is the EXTERNAL mechanism (RFC 4422 Appendix A): the server
// authenticates the client from the TLS client certificate, and the client
// sends only the authorization identity it asks for (empty: the one derived
// from the certificate). Nothing it sends is secret.
type External struct {
	authzid string

	started  bool
	replayed bool
	steps
}

// NewExternal returns an EXTERNAL client that asks for authzid.
func NewExternal(authzid string) *External {
	return &External{authzid: authzid}
}

// Start returns the authorization identity as the initial response; an
// empty one is sent as "=" (RFC 4954 §4).
func (m *External) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart("EXTERNAL")
	}
	m.started = true
	m.add(false)
	return "EXTERNAL", []byte(m.authzid), nil
}

// Next answers the empty challenge of a server that got no initial
// response (RFC 4422 Appendix A.1); anything else is an error.
func (m *External) Next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if !m.started {
		return nil, errNotStarted("EXTERNAL")
	}
	if len(challenge) == 0 && !m.replayed {
		m.replayed = true
		m.replayInitial(false)
		return []byte(m.authzid), nil
	}
	return nil, fmt.Errorf("%w: EXTERNAL has no further step, but the server sent %q", ErrBadChallenge, excerpt(challenge))
}
