package auth

import (
	"bytes"
	"fmt"
)

// Login is the LOGIN mechanism (draft-murchison-sasl-login, never an RFC):
// the server prompts for the user name and then the password, and the
// client answers each prompt. It sends the password in clear, so [Choose]
// uses it only over TLS unless the account allows otherwise.
//
// Servers word their prompts differently ("Username:", "User Name\x00",
// "login:", or text in another language), so a prompt is answered by what
// it recognisably asks for, and otherwise by position: first the user name,
// then the password. Each is sent once. The answer holding the password is
// secret; the one holding the user name is not.
type Login struct {
	user     string
	password SecretSource

	started  bool
	ready    bool
	pass     string
	sentUser bool
	sentPass bool
	steps
}

// NewLogin returns a LOGIN client.
func NewLogin(user string, password SecretSource) *Login {
	return &Login{user: user, password: password}
}

// Start reads the password, before AUTH is sent, so that a prompt on the
// terminal never keeps the server waiting. LOGIN has no initial response.
func (m *Login) Start() (string, []byte, error) {
	if m.started {
		return "", nil, errRestart("LOGIN")
	}
	m.started = true
	pass, err := readSecret(m.password, "password")
	if err != nil {
		return "", nil, err
	}
	if m.user == "" {
		return "", nil, fmt.Errorf("%w: LOGIN needs a user name", ErrBadCredential)
	}
	m.pass = pass
	m.ready = true
	return "LOGIN", nil, nil
}

// Next answers a prompt with the user name or the password.
func (m *Login) Next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, err
	}
	if !m.ready {
		return nil, errNotStarted("LOGIN")
	}
	if m.sentUser && m.sentPass {
		return nil, fmt.Errorf("%w: LOGIN has two prompts, but the server sent a third: %q", ErrBadChallenge, excerpt(challenge))
	}
	wantPass := m.sentUser // by position
	switch loginPrompt(challenge) {
	case promptPassword:
		wantPass = true
	case promptUser:
		wantPass = false
	}
	if wantPass {
		if m.sentPass {
			return nil, fmt.Errorf("%w: the server asked for the password twice: %q", ErrBadChallenge, excerpt(challenge))
		}
		m.sentPass = true
		m.add(true)
		p := []byte(m.pass)
		m.pass = ""
		return p, nil
	}
	if m.sentUser {
		return nil, fmt.Errorf("%w: the server asked for the user name twice: %q", ErrBadChallenge, excerpt(challenge))
	}
	m.sentUser = true
	m.add(false)
	return []byte(m.user), nil
}

type prompt int

const (
	promptUnknown prompt = iota
	promptUser
	promptPassword
)

// loginPrompt recognises what a LOGIN prompt asks for. "Password" is
// checked first, since some servers word the second prompt "Password for
// login:".
func loginPrompt(challenge []byte) prompt {
	p := bytes.ToLower(bytes.TrimRight(challenge, "\x00 \t:"))
	switch {
	case bytes.Contains(p, []byte("pass")):
		return promptPassword
	case bytes.Contains(p, []byte("user")), bytes.Contains(p, []byte("name")), bytes.Contains(p, []byte("login")):
		return promptUser
	}
	return promptUnknown
}
