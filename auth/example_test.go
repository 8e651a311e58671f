package auth_test

import (
	"errors"
	"fmt"

	"github.com/outbox-smtp/outbox/auth"
)

// Choosing a mechanism for an account with a password on a connection
// without TLS: SCRAM is chosen, and PLAIN alone would be refused.
func ExampleChoose() {
	cfg := auth.Config{
		User: "jane@example.org",
		// Called only when the chosen mechanism starts.
		Password: func() (string, error) { return "correct horse", nil },
	}
	m, err := auth.Choose([]string{"PLAIN", "LOGIN", "SCRAM-SHA-256"}, nil, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	mech, ir, _ := m.Start()
	fmt.Println(mech, m.IsSecret(0), string(ir[:len("n,,n=jane@example.org,r=")]))

	_, err = auth.Choose([]string{"PLAIN", "LOGIN"}, nil, cfg)
	fmt.Println(errors.Is(err, auth.ErrNoMechanism), errors.Is(err, auth.ErrInsecure))
	fmt.Println(err)
	// Output:
	// SCRAM-SHA-256 false n,,n=jane@example.org,r=
	// true true
	// no usable authentication mechanism: refusing PLAIN, LOGIN without TLS: they would send the password in clear; use TLS, or allow it with --allow-insecure-auth or allow_insecure_auth = true
}

// After the server's final reply, a mechanism that can verify the outcome
// has the last word: a SCRAM server that says 235 without proving it knows
// the password is not trusted.
func ExampleVerifier() {
	m, _ := auth.NewSCRAM(auth.SCRAMParams{
		Hash:     auth.SHA256,
		User:     "user",
		Password: func() (string, error) { return "pencil", nil },
	})
	m.Start()
	// ... the server answered the client-first message with 235 at once.
	if v, ok := auth.Mechanism(m).(auth.Verifier); ok {
		err := v.Verify()
		fmt.Println(errors.Is(err, auth.ErrAuthFailed))
	}
	// Output:
	// true
}

// The OAUTHBEARER error flow (RFC 7628 §3.2.3): the server's JSON error
// arrives as a challenge, the client answers %x01, and the reason is kept
// for the user.
func ExampleOAuthBearer() {
	m := auth.NewOAuthBearer("user@example.com", "server.example.com", 587,
		func() (string, error) { return "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", nil })
	m.Start()
	resp, _ := m.Next([]byte(`{"status":"invalid_token","scope":"example_scope"}`))
	fmt.Printf("%q\n", resp)
	// ... the server replies 535.
	var oe *auth.OAuthError
	if errors.As(m.Verify(), &oe) {
		fmt.Println(oe)
	}
	// Output:
	// "\x01"
	// OAUTHBEARER: the server refused the token: status invalid_token, scope example_scope
}
