package smtp

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AuthError is a failed AUTH exchange that the server did not refuse with a
// reply of its own: the mechanism gave up (a malformed or hostile challenge,
// a server signature that does not verify), or the server's challenge was
// not valid base64. When the exchange was still in step, "*" was sent to
// cancel it (RFC 4954 §4).
type AuthError struct {
	Mechanism string
	Err       error
}

func (e *AuthError) Error() string {
	if e.Mechanism == "" {
		return "AUTH: " + e.Err.Error()
	}
	return "AUTH " + e.Mechanism + ": " + e.Err.Error()
}
func (e *AuthError) Unwrap() error { return e.Err }

// Verifier is implemented by mechanisms that know more about the outcome
// than the server's final reply says. After a 235, Verify must succeed, or
// the authentication is treated as failed: a success without the server's
// proof is no success (SCRAM, RFC 5802 §5). After a refusal, its error
// explains it (the JSON error of OAUTHBEARER and XOAUTH2, RFC 7628 §3.2.2)
// and is joined to the [*Error].
type Verifier interface {
	Verify() error
}

// cleartextMechanisms send the password itself (or an equivalent bearer
// secret) to the server.
var cleartextMechanisms = []string{"PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER"}

// Auth authenticates with mechanism m (RFC 4954). The mechanism must be one
// the server advertised after TLS; a cleartext mechanism on a connection
// without TLS is refused unless Options.AllowInsecureAuth is set. A refusal
// by the server is an [*Error] (535: bad credentials); a failure of the
// exchange itself is an [*AuthError].
//
// Every client line of the exchange is redacted in the trace, whatever the
// mechanism (LOGIN sends the user name and the password on lines of their
// own; SCRAM's proofs are password equivalents): only an empty response,
// which carries nothing, is shown as it is.
func (c *Client) Auth(m SASLMechanism) error {
	if err := c.hello(); err != nil {
		return err
	}
	if err := c.usable(); err != nil {
		return err
	}
	mech, ir, err := m.Start()
	if err != nil {
		return &StageError{StageAuth, &AuthError{Mechanism: mech, Err: err}}
	}
	mech = strings.ToUpper(mech)
	if !slices.Contains(c.ext.AuthMechanisms(), mech) {
		return &StageError{StageAuth, fmt.Errorf("%w: %s is not offered (server offers: %s)", ErrAuthUnavailable, mech, strings.Join(c.ext.AuthMechanisms(), " "))}
	}
	if c.tls == nil && !c.opts.AllowInsecureAuth && slices.Contains(cleartextMechanisms, mech) {
		return &StageError{StageAuth, fmt.Errorf("%w: %s would send the password in clear", ErrInsecureAuth, mech)}
	}
	if c.br.Buffered() > 0 {
		return c.fail(&StageError{StageAuth, fmt.Errorf("%w: the server sent data before AUTH", ErrProtocol)}, false)
	}

	shownAs := func(enc string, empty bool) string {
		if c.opts.TraceSecrets || empty {
			return enc
		}
		return redacted
	}
	line := "AUTH " + mech
	shown := line
	pendingIR := []byte(nil)
	if ir != nil {
		enc := encodeResponse(ir)
		// RFC 4954 §4: when the initial response would make the command
		// too long, send it after an empty challenge instead.
		if len(line)+1+len(enc)+2 <= maxCommandLine {
			line += " " + enc
			shown += " " + shownAs(enc, len(ir) == 0)
		} else {
			pendingIR = ir
		}
	}
	if err := c.queueLine(line, shown, maxSASLLine); err != nil {
		return &StageError{StageAuth, err}
	}
	c.cw.timeout = c.tm.Command
	if err := c.flush(StageAuth); err != nil {
		return err
	}
	command := "AUTH " + mech
	for {
		rep, err := c.readReply(StageAuth, c.tm.Command, saslLineLimit)
		if err != nil {
			return err
		}
		switch {
		case rep.Code == 235:
			if v, ok := m.(Verifier); ok {
				if err := v.Verify(); err != nil {
					// The server says yes but did not prove it knows the
					// credentials: treat it as an impostor.
					return c.fail(&StageError{StageAuth, &AuthError{Mechanism: mech, Err: err}}, true)
				}
			}
			c.authMech = mech
			c.trace.event("authenticated with %s", mech)
			return nil
		case rep.Code == 334:
			var resp []byte
			if pendingIR != nil {
				resp, pendingIR = pendingIR, nil
			} else {
				challenge, derr := decodeChallenge(rep)
				if derr != nil {
					return c.cancelAuth(mech, derr)
				}
				resp, err = m.Next(challenge)
				if err != nil {
					return c.cancelAuth(mech, err)
				}
			}
			enc := encodeResponse(resp)
			if len(resp) == 0 {
				enc = "" // an empty response is an empty line (RFC 4954 §4)
			}
			if err := c.queueLine(enc, shownAs(enc, len(resp) == 0), maxSASLLine); err != nil {
				return c.cancelAuth(mech, err)
			}
			if err := c.flush(StageAuth); err != nil {
				return err
			}
		default:
			err := c.expect(StageAuth, command, rep, 235)
			if v, ok := m.(Verifier); ok && rep.Code >= 400 {
				if verr := v.Verify(); verr != nil {
					var se *StageError
					if errors.As(err, &se) {
						err = &StageError{StageAuth, fmt.Errorf("%w: %w", se.Err, verr)}
					}
				}
			}
			return err
		}
	}
}

// encodeResponse is base64 with "=" standing for an empty initial response
// (RFC 4954 §4).
func encodeResponse(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decodeChallenge decodes the base64 text of a 334 reply strictly.
func decodeChallenge(rep Reply) ([]byte, error) {
	if len(rep.Lines) != 1 {
		return nil, fmt.Errorf("%w: multi-line AUTH challenge", ErrProtocol)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rep.Lines[0])
	if err != nil {
		return nil, fmt.Errorf("%w: AUTH challenge is not valid base64", ErrProtocol)
	}
	return b, nil
}

// cancelAuth sends "*" to end the exchange (RFC 4954 §4) and reads the
// server's answer, which should be 501.
func (c *Client) cancelAuth(mech string, cause error) error {
	aerr := &StageError{StageAuth, &AuthError{Mechanism: mech, Err: cause}}
	if err := c.queueLine("*", "*", maxCommandLine); err != nil {
		return c.fail(aerr, false)
	}
	if err := c.flush(StageAuth); err != nil {
		return aerr
	}
	rep, err := c.readReply(StageAuth, c.tm.Command, saslLineLimit)
	if err != nil {
		return aerr
	}
	if rep.Code < 400 {
		// Anything but a refusal here leaves us unsure of the server's
		// state: nothing more but QUIT.
		return c.fail(aerr, rep.Code != 235)
	}
	return aerr
}
