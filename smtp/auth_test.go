package smtp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// scriptedMech answers challenges from a list and records what it saw.
type scriptedMech struct {
	name    string
	ir      []byte
	answers [][]byte
	seen    [][]byte
	failAt  int // Next call (1-based) that fails; 0 never
	verify  error
}

func (m *scriptedMech) Start() (string, []byte, error) { return m.name, m.ir, nil }
func (m *scriptedMech) Next(ch []byte) ([]byte, error) {
	m.seen = append(m.seen, ch)
	if len(m.seen) == m.failAt {
		return nil, errors.New("bad challenge")
	}
	a := m.answers[0]
	m.answers = m.answers[1:]
	return a, nil
}

type verifyingMech struct{ scriptedMech }

func (m *verifyingMech) Verify() error { return m.verify }

func authSession(t *testing.T, ext string, script func(f *fake)) (*Client, func() *fake, *bytes.Buffer) {
	var trace bytes.Buffer
	conn, wait := startFake(t, func(f *fake) {
		f.greet(strings.Split(ext, "|")...)
		script(f)
	})
	o := testOptions(&trace)
	o.AllowInsecureAuth = true
	return NewClient(conn, o), wait, &trace
}

func TestAuthInitialResponse(t *testing.T) {
	c, wait, trace := authSession(t, "AUTH PLAIN", func(f *fake) {
		f.expect("AUTH PLAIN AHVzZXIAcGFzcw==")
		f.reply("235 2.7.0 Authentication successful")
	})
	if err := c.Auth(&scriptedMech{name: "PLAIN", ir: []byte("\x00user\x00pass")}); err != nil {
		t.Fatal(err)
	}
	if c.AuthMechanism() != "PLAIN" {
		t.Errorf("mechanism %q", c.AuthMechanism())
	}
	c.Close()
	wait()
	if strings.Contains(trace.String(), "AHVzZXIAcGFzcw==") || !strings.Contains(trace.String(), "C: AUTH PLAIN <redacted>") {
		t.Errorf("trace:\n%s", trace)
	}
}

// TestAuthEmptyInitialResponse: an empty initial response is "=" (RFC
// 4954 §4), and an empty answer is an empty line.
func TestAuthEmptyInitialResponse(t *testing.T) {
	c, wait, trace := authSession(t, "AUTH EXTERNAL X-TEST", func(f *fake) {
		f.expect("AUTH EXTERNAL =")
		f.reply("235 ok")
	})
	if err := c.Auth(&scriptedMech{name: "EXTERNAL", ir: []byte{}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
	if !strings.Contains(trace.String(), "C: AUTH EXTERNAL =") {
		t.Errorf("an empty response carries nothing and should be shown:\n%s", trace)
	}
}

func TestAuthChallengesAndEmptyAnswer(t *testing.T) {
	m := &scriptedMech{name: "X-TEST", answers: [][]byte{[]byte("one"), {}}}
	c, wait, _ := authSession(t, "AUTH X-TEST", func(f *fake) {
		f.expect("AUTH X-TEST")
		f.reply("334 ")
		f.expect("b25l")
		f.reply("334 Zmlu")
		f.expect("")
		f.reply("235 ok")
	})
	if err := c.Auth(m); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
	if len(m.seen) != 2 || string(m.seen[0]) != "" || string(m.seen[1]) != "fin" {
		t.Errorf("challenges seen: %q", m.seen)
	}
}

// TestAuthCancel: a mechanism that rejects a challenge makes the client
// send "*" (RFC 4954 §4) and report an AuthError.
func TestAuthCancel(t *testing.T) {
	c, wait, _ := authSession(t, "AUTH X-TEST", func(f *fake) {
		f.expect("AUTH X-TEST")
		f.reply("334 Zmlyc3Q=")
		f.expect("*")
		f.reply("501 5.7.0 authentication cancelled")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	err := c.Auth(&scriptedMech{name: "X-TEST", failAt: 1})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Mechanism != "X-TEST" {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

func TestAuthMalformedBase64(t *testing.T) {
	for _, ch := range []string{"not base64!", "Zm9v\x09", "Zm9v=", "Zg"} {
		c, wait, _ := authSession(t, "AUTH X-TEST", func(f *fake) {
			f.expect("AUTH X-TEST")
			f.reply("334 " + ch)
			f.expect("*")
			f.reply("501 cancelled")
		})
		err := c.Auth(&scriptedMech{name: "X-TEST"})
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("challenge %q: got %v", ch, err)
		}
		c.Close()
		wait()
	}
}

func TestAuthRefused(t *testing.T) {
	c, wait, _ := authSession(t, "AUTH PLAIN|ENHANCEDSTATUSCODES", func(f *fake) {
		f.expect("AUTH PLAIN AHUAcA==")
		f.reply("535 5.7.8 Error: authentication failed")
	})
	err := c.Auth(&scriptedMech{name: "PLAIN", ir: []byte("\x00u\x00p")})
	var e *Error
	if !errors.As(err, &e) || e.Code != 535 || e.Command != "AUTH PLAIN" {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "AHUAcA") {
		t.Errorf("error shows the credentials: %v", err)
	}
	c.Close()
	wait()
}

// TestAuthServerProofMissing: a 235 from a server that did not prove it
// knows the credentials is a failure.
func TestAuthServerProofMissing(t *testing.T) {
	c, wait, _ := authSession(t, "AUTH SCRAM-SHA-256", func(f *fake) {
		f.expect("AUTH SCRAM-SHA-256 bj0=")
		f.reply("235 ok")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	m := &verifyingMech{scriptedMech{name: "SCRAM-SHA-256", ir: []byte("n="), verify: errors.New("no server signature")}}
	err := c.Auth(m)
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v", err)
	}
	if c.AuthMechanism() != "" {
		t.Error("counted as authenticated")
	}
	c.Quit()
	wait()
}

// TestAuthPolicy: no unadvertised mechanism, no cleartext without TLS.
func TestAuthPolicy(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("AUTH PLAIN LOGIN")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	if err := c.Auth(&scriptedMech{name: "CRAM-MD5"}); !errors.Is(err, ErrAuthUnavailable) {
		t.Errorf("unadvertised: %v", err)
	}
	if err := c.Auth(&scriptedMech{name: "PLAIN", ir: []byte("x")}); !errors.Is(err, ErrInsecureAuth) {
		t.Errorf("cleartext without TLS: %v", err)
	}
	c.Quit()
	wait()
}

// TestAuthLongInitialResponse: an initial response that would make the
// command longer than 512 octets is sent after an empty challenge.
func TestAuthLongInitialResponse(t *testing.T) {
	ir := bytes.Repeat([]byte("t"), 600)
	c, wait, _ := authSession(t, "AUTH XOAUTH2", func(f *fake) {
		f.expect("AUTH XOAUTH2")
		f.reply("334 ")
		if got := f.line(); len(got) != 800 {
			t.Errorf("response of %d octets", len(got))
		}
		f.reply("235 ok")
	})
	if err := c.Auth(&scriptedMech{name: "XOAUTH2", ir: ir}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
}

// TestAuthOAuthErrorFlow: on a 334 with a JSON error the mechanism answers
// empty, the server refuses, and the mechanism's explanation joins the
// refusal.
func TestAuthOAuthErrorFlow(t *testing.T) {
	c, wait, _ := authSession(t, "AUTH XOAUTH2", func(f *fake) {
		f.expect("AUTH XOAUTH2 dG9rZW4=")
		f.reply("334 eyJzdGF0dXMiOiI0MDEifQ==")
		f.expect("")
		f.reply("535 5.7.8 Username and Password not accepted")
	})
	m := &verifyingMech{scriptedMech{name: "XOAUTH2", ir: []byte("token"), answers: [][]byte{{}}, verify: errors.New(`server says: {"status":"401"}`)}}
	err := c.Auth(m)
	var e *Error
	if !errors.As(err, &e) || e.Code != 535 || !strings.Contains(err.Error(), `"status":"401"`) {
		t.Fatalf("got %v", err)
	}
	c.Close()
	wait()
}
