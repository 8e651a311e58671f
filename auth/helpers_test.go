package auth

import (
	"bytes"
	"errors"
	"testing"
)

// fixed returns a secret source that yields s and counts its calls.
func fixed(s string, calls *int) SecretSource {
	return func() (string, error) {
		if calls != nil {
			*calls++
		}
		return s, nil
	}
}

var errPrompt = errors.New("prompt cancelled")

func failing() SecretSource {
	return func() (string, error) { return "", errPrompt }
}

// The interfaces the smtp package drives (smtp/sasl.go), restated so that
// this package's tests do not depend on the smtp package building: every
// mechanism must satisfy them structurally.
type saslMechanism interface {
	Start() (mech string, ir []byte, err error)
	Next(challenge []byte) (response []byte, err error)
}

type secretTeller interface {
	IsSecret(step int) bool
}

var (
	_ saslMechanism = Mechanism(nil)
	_ secretTeller  = Mechanism(nil)
	_ Mechanism     = (*Plain)(nil)
	_ Mechanism     = (*Login)(nil)
	_ Mechanism     = (*CRAMMD5)(nil)
	_ Mechanism     = (*SCRAM)(nil)
	_ Mechanism     = (*XOAuth2)(nil)
	_ Mechanism     = (*OAuthBearer)(nil)
	_ Mechanism     = (*External)(nil)
	_ Verifier      = (*SCRAM)(nil)
	_ Verifier      = (*XOAuth2)(nil)
	_ Verifier      = (*OAuthBearer)(nil)
)

// exchange is one step of a scripted conversation: the challenge the
// server sends and the response the client must give.
type exchange struct {
	challenge string
	response  string
	secret    bool
}

// run starts m, checks the mechanism name and initial response, then plays
// the script.
func run(t *testing.T, m Mechanism, wantMech string, wantIR []byte, irSecret bool, script []exchange) {
	t.Helper()
	mech, ir, err := m.Start()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if mech != wantMech {
		t.Fatalf("mechanism %q, want %q", mech, wantMech)
	}
	if !bytes.Equal(ir, wantIR) || (ir == nil) != (wantIR == nil) {
		t.Fatalf("initial response %q (nil %v), want %q (nil %v)", ir, ir == nil, wantIR, wantIR == nil)
	}
	step := 0
	if ir != nil {
		if got := m.IsSecret(0); got != irSecret {
			t.Errorf("IsSecret(0) = %v, want %v", got, irSecret)
		}
		step = 1
	}
	for i, x := range script {
		resp, err := m.Next([]byte(x.challenge))
		if err != nil {
			t.Fatalf("step %d: Next(%q): %v", i, x.challenge, err)
		}
		if string(resp) != x.response {
			t.Fatalf("step %d: Next(%q) = %q, want %q", i, x.challenge, resp, x.response)
		}
		if got := m.IsSecret(step); got != x.secret {
			t.Errorf("step %d: IsSecret(%d) = %v, want %v", i, step, got, x.secret)
		}
		step++
	}
	if !m.IsSecret(step + 5) {
		t.Errorf("IsSecret of a step never produced = false, want true")
	}
}
