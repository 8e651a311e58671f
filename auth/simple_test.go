package auth

import (
	"errors"
	"strings"
	"testing"
)

// RFC 4616 §4 examples.
func TestPlainRFC4616(t *testing.T) {
	run(t, NewPlain("", "tim", fixed("tanstaaftanstaaf", nil)), "PLAIN",
		[]byte("\x00tim\x00tanstaaftanstaaf"), true, nil)
	run(t, NewPlain("Ursel", "Kurt", fixed("xipj3plmq", nil)), "PLAIN",
		[]byte("Ursel\x00Kurt\x00xipj3plmq"), true, nil)
}

func TestPlainAnswersEmptyChallengeOnce(t *testing.T) {
	m := NewPlain("", "tim", fixed("tanstaaftanstaaf", nil))
	run(t, m, "PLAIN", []byte("\x00tim\x00tanstaaftanstaaf"), true,
		[]exchange{{"", "\x00tim\x00tanstaaftanstaaf", true}})
	if _, err := m.Next(nil); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("second empty challenge: %v, want ErrBadChallenge", err)
	}
}

func TestPlainRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, authzid, user, pass string
	}{
		{"NUL in user", "", "ti\x00m", "pw"},
		{"NUL in password", "", "tim", "p\x00w"},
		{"NUL in authzid", "a\x00", "tim", "pw"},
		{"empty password", "", "tim", ""},
		{"empty user", "", "", "pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := NewPlain(tc.authzid, tc.user, fixed(tc.pass, nil)).Start()
			if !errors.Is(err, ErrBadCredential) {
				t.Fatalf("Start: %v, want ErrBadCredential", err)
			}
			if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "p\x00w") {
				t.Fatalf("error quotes the password: %v", err)
			}
		})
	}
}

func TestPlainChallengeIsError(t *testing.T) {
	m := NewPlain("", "tim", fixed("pw", nil))
	if _, _, err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Next([]byte("more?")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("Next: %v, want ErrBadChallenge", err)
	}
}

func TestSecretSourceCalledOnceInStart(t *testing.T) {
	var calls int
	m := NewPlain("", "tim", fixed("pw", &calls))
	if calls != 0 {
		t.Fatalf("password read before Start")
	}
	if _, _, err := m.Start(); err != nil {
		t.Fatal(err)
	}
	m.Next(nil)
	if calls != 1 {
		t.Fatalf("password read %d times, want 1", calls)
	}
	if _, _, err := m.Start(); err == nil {
		t.Fatalf("second Start succeeded")
	}
}

func TestSecretSourceErrorPassesThrough(t *testing.T) {
	for _, m := range []Mechanism{
		NewPlain("", "u", failing()),
		NewLogin("u", failing()),
		NewCRAMMD5("u", failing()),
		NewXOAuth2("u", failing()),
		NewOAuthBearer("u", "", 0, failing()),
	} {
		if _, _, err := m.Start(); !errors.Is(err, errPrompt) {
			t.Errorf("%T.Start: %v, want the source's error", m, err)
		}
	}
	m, err := NewSCRAM(SCRAMParams{Hash: SHA256, User: "u", Password: failing()})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Start(); !errors.Is(err, errPrompt) {
		t.Errorf("SCRAM Start: %v, want the source's error", err)
	}
	if !errors.Is(m.Verify(), errPrompt) {
		t.Errorf("SCRAM Verify after a failed Start: %v", m.Verify())
	}
}

func TestNextBeforeStart(t *testing.T) {
	scram, _ := NewSCRAM(SCRAMParams{Hash: SHA1, User: "u", Password: fixed("p", nil)})
	for _, m := range []Mechanism{
		NewPlain("", "u", fixed("p", nil)),
		NewLogin("u", fixed("p", nil)),
		NewCRAMMD5("u", fixed("p", nil)),
		NewXOAuth2("u", fixed("t", nil)),
		NewOAuthBearer("u", "", 0, fixed("t", nil)),
		NewExternal(""),
		scram,
	} {
		if resp, err := m.Next([]byte("x")); err == nil {
			t.Errorf("%T.Next before Start = %q, want an error", m, resp)
		}
	}
}

// RFC 2195 §2 example.
func TestCRAMMD5RFC2195(t *testing.T) {
	m := NewCRAMMD5("tim", fixed("tanstaaftanstaaf", nil))
	run(t, m, "CRAM-MD5", nil, false, []exchange{{
		"<1896.697170952@postoffice.reston.mci.net>",
		"tim b913a602c7eda7a495b4e6e7334d3890", true,
	}})
	if _, err := m.Next([]byte("<again@host>")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("second challenge: %v, want ErrBadChallenge", err)
	}
}

func TestCRAMMD5EmptyChallenge(t *testing.T) {
	m := NewCRAMMD5("tim", fixed("pw", nil))
	m.Start()
	if _, err := m.Next(nil); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("empty challenge: %v, want ErrBadChallenge", err)
	}
}

func TestLogin(t *testing.T) {
	for _, tc := range []struct {
		name  string
		first string
		next  string
	}{
		{"usual prompts", "Username:", "Password:"},
		{"Exim prompts", "Username::", "Password::"},
		{"NUL-terminated prompts", "User Name\x00", "Password\x00"},
		{"lower case", "username:", "password:"},
		{"unknown words", "Benutzer-ID?", "Geheimwort?"},
		{"empty prompts", "", ""},
		{"binary prompts", "\xff\xfe", "\x00\x01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, NewLogin("tim", fixed("tanstaaf", nil)), "LOGIN", nil, false, []exchange{
				{tc.first, "tim", false},
				{tc.next, "tanstaaf", true},
			})
		})
	}
}

func TestLoginPasswordPromptFirst(t *testing.T) {
	run(t, NewLogin("tim", fixed("tanstaaf", nil)), "LOGIN", nil, false, []exchange{
		{"Password:", "tanstaaf", true},
		{"Username:", "tim", false},
	})
}

func TestLoginHostilePrompts(t *testing.T) {
	m := NewLogin("tim", fixed("tanstaaf", nil))
	m.Start()
	if _, err := m.Next([]byte("Password:")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Next([]byte("Password again:")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("second password prompt: %v, want ErrBadChallenge", err)
	}

	m = NewLogin("tim", fixed("tanstaaf", nil))
	m.Start()
	m.Next([]byte("Username:"))
	m.Next([]byte("Password:"))
	if _, err := m.Next([]byte("Username:")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("third prompt: %v, want ErrBadChallenge", err)
	}

	m = NewLogin("tim", fixed("tanstaaf", nil))
	m.Start()
	m.Next([]byte("Username:"))
	if _, err := m.Next([]byte("Username:")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("second user prompt: %v, want ErrBadChallenge", err)
	}
}

// RFC 4422 Appendix A.2 example: an empty authorization identity is an
// empty initial response, sent as "=".
func TestExternal(t *testing.T) {
	run(t, NewExternal(""), "EXTERNAL", []byte{}, false, nil)
	m := NewExternal("fred@example.com")
	run(t, m, "EXTERNAL", []byte("fred@example.com"), false, nil)
	// A server that got no initial response asks with an empty challenge
	// (RFC 4422 Appendix A.1); the answer is then the first message on the
	// wire, step 0.
	resp, err := m.Next(nil)
	if err != nil || string(resp) != "fred@example.com" {
		t.Fatalf("Next(empty) = %q, %v", resp, err)
	}
	if m.IsSecret(0) || !m.IsSecret(1) {
		t.Fatalf("after the replay IsSecret(0) = %v, IsSecret(1) = %v; want false, true", m.IsSecret(0), m.IsSecret(1))
	}
	if _, err := m.Next([]byte("?")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("challenge after the replay: %v, want ErrBadChallenge", err)
	}
}

func TestOverlongChallenge(t *testing.T) {
	long := make([]byte, MaxChallenge+1)
	scram, _ := NewSCRAM(SCRAMParams{Hash: SHA256, User: "u", Password: fixed("p", nil)})
	for _, m := range []Mechanism{
		NewPlain("", "u", fixed("p", nil)),
		NewLogin("u", fixed("p", nil)),
		NewCRAMMD5("u", fixed("p", nil)),
		NewXOAuth2("u", fixed("t", nil)),
		NewOAuthBearer("u", "", 0, fixed("t", nil)),
		NewExternal(""),
		scram,
	} {
		if _, _, err := m.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Next(long); !errors.Is(err, ErrChallengeTooLong) || !errors.Is(err, ErrBadChallenge) {
			t.Errorf("%T.Next(overlong) = %v, want ErrChallengeTooLong", m, err)
		}
	}
}
