package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// RFC 7628 §4.1: the successful exchange (IMAP, port 143).
func TestOAuthBearerRFC7628Success(t *testing.T) {
	const token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
	want := b64(t, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
	m := NewOAuthBearer("user@example.com", "server.example.com", 143, fixed(token, nil))
	run(t, m, "OAUTHBEARER", []byte(want), true, nil)
	if err := m.Verify(); err != nil {
		t.Fatalf("Verify after success: %v", err)
	}
}

// RFC 7628 §4: the SMTP example of a failed exchange. The server's 334
// carries a JSON error; the client answers %x01 and the server replies 535.
func TestOAuthBearerRFC7628Failure(t *testing.T) {
	const token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
	want := b64(t, "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9NTg3AWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB")
	challenge := b64(t, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=")
	m := NewOAuthBearer("user@example.com", "server.example.com", 587, fixed(token, nil))
	run(t, m, "OAUTHBEARER", []byte(want), true, []exchange{{challenge, "\x01", false}})
	err := m.Verify()
	var oe *OAuthError
	if !errors.As(err, &oe) || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("Verify = %v, want an *OAuthError matching ErrAuthFailed", err)
	}
	if oe.Status != "invalid_token" || oe.Scope != "example_scope" || oe.OpenIDConfiguration != "https://example.com/.well-known/openid-configuration" {
		t.Fatalf("OAuthError = %+v", oe)
	}
	if msg := err.Error(); !strings.Contains(msg, "invalid_token") || !strings.Contains(msg, "example_scope") {
		t.Fatalf("message %q lacks the server's reason", msg)
	}
	if _, err := m.Next([]byte(challenge)); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("challenge after the error: %v, want ErrBadChallenge", err)
	}
}

func TestOAuthBearerMinimal(t *testing.T) {
	run(t, NewOAuthBearer("a,b=c", "", 0, fixed("t0k-._~+/==", nil)), "OAUTHBEARER",
		[]byte("n,a=a=2Cb=3Dc,\x01auth=Bearer t0k-._~+/==\x01\x01"), true, nil)
	run(t, NewOAuthBearer("", "", 0, fixed("tok", nil)), "OAUTHBEARER",
		[]byte("n,,\x01auth=Bearer tok\x01\x01"), true, nil)
}

// Google's XOAUTH2 example ("OAuth 2.0 Mechanism", SASL XOAUTH2 format).
func TestXOAuth2Google(t *testing.T) {
	want := b64(t, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==")
	m := NewXOAuth2("someuser@example.com", fixed("ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", nil))
	run(t, m, "XOAUTH2", []byte(want), true, nil)
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
}

// Google's documented error challenge; the client answers with an empty
// response.
func TestXOAuth2ErrorFlow(t *testing.T) {
	challenge := b64(t, "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIG1hYyIsInNjb3BlIjoiaHR0cHM6Ly9tYWlsLmdvb2dsZS5jb20vIn0K")
	m := NewXOAuth2("someuser@example.com", fixed("ya29.x", nil))
	run(t, m, "XOAUTH2", []byte("user=someuser@example.com\x01auth=Bearer ya29.x\x01\x01"), true,
		[]exchange{{challenge, "", false}})
	var oe *OAuthError
	if err := m.Verify(); !errors.As(err, &oe) {
		t.Fatalf("Verify = %v", err)
	}
	if oe.Mechanism != "XOAUTH2" || oe.Status != "401" || oe.Schemes != "bearer mac" || oe.Scope != "https://mail.google.com/" {
		t.Fatalf("OAuthError = %+v", oe)
	}
}

func TestOAuthErrorDocuments(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      OAuthError
	}{
		{"numeric status", `{"status":401}`, OAuthError{Status: "401"}},
		{"not JSON", "go away\x1b[2J", OAuthError{Raw: `go away\x1b[2J`}},
		{"JSON without known keys", `{"x":1}`, OAuthError{Raw: `{"x":1}`}},
		{"control bytes in values", `{"status":"bad\u001b[31m"}`, OAuthError{Status: `bad\x1b[31m`}},
		{"nested values ignored", `{"status":{"a":1},"scope":"s"}`, OAuthError{Scope: "s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewXOAuth2("u", fixed("t", nil))
			m.Start()
			resp, err := m.Next([]byte(tc.doc))
			if err != nil || len(resp) != 0 {
				t.Fatalf("Next = %q, %v; want the empty answer", resp, err)
			}
			var oe *OAuthError
			if !errors.As(m.Verify(), &oe) {
				t.Fatalf("Verify = %v", m.Verify())
			}
			tc.want.Mechanism = "XOAUTH2"
			if *oe != tc.want {
				t.Fatalf("OAuthError = %+v, want %+v", *oe, tc.want)
			}
			if strings.ContainsAny(oe.Error(), "\x1b\x00") {
				t.Fatalf("message carries control bytes: %q", oe.Error())
			}
		})
	}
}

func TestOAuthReplaysInitialResponse(t *testing.T) {
	m := NewXOAuth2("u", fixed("tok", nil))
	m.Start()
	resp, err := m.Next(nil)
	if err != nil || string(resp) != "user=u\x01auth=Bearer tok\x01\x01" {
		t.Fatalf("Next(empty) = %q, %v", resp, err)
	}
	if !m.IsSecret(0) {
		t.Fatal("replayed token not secret")
	}
	if err := m.Verify(); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestOAuthBadCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Mechanism
	}{
		{"empty token", NewXOAuth2("u", fixed("", nil))},
		{"token with SOH", NewXOAuth2("u", fixed("a\x01auth=Bearer b", nil))},
		{"token with space", NewOAuthBearer("u", "", 0, fixed("a b", nil))},
		{"token with CRLF", NewOAuthBearer("u", "", 0, fixed("a\r\nQUIT", nil))},
		{"token of padding", NewOAuthBearer("u", "", 0, fixed("==", nil))},
		{"padding inside", NewOAuthBearer("u", "", 0, fixed("ab=c", nil))},
		{"user with SOH", NewXOAuth2("u\x01", fixed("t", nil))},
		{"no user", NewXOAuth2("", fixed("t", nil))},
		{"host with SOH", NewOAuthBearer("u", "h\x01port=1", 0, fixed("t", nil))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := tc.m.Start(); !errors.Is(err, ErrBadCredential) {
				t.Fatalf("Start: %v, want ErrBadCredential", err)
			}
		})
	}
}

func TestDecodeChallenge(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
		err      error
	}{
		{"empty", "", 0, "", nil},
		{"lone =", "=", 0, "", nil},
		{"RFC 2195 challenge", "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+", 0, "<1896.697170952@postoffice.reston.mci.net>", nil},
		{"at the bound", "YWJj", 3, "abc", nil},
		{"over the bound", "YWJjZA==", 3, "", ErrChallengeTooLong},
		{"bound counts octets", "YWJjZA==", 4, "abcd", nil},
		{"missing padding", "YWJjZA", 0, "", ErrBadChallenge},
		{"URL alphabet", "-_8=", 0, "", ErrBadChallenge},
		{"space", "YWJj ZA==", 0, "", ErrBadChallenge},
		{"CRLF inside", "YWJj\r\nZA==", 0, "", ErrBadChallenge},
		{"trailing space", "YWJj ", 0, "", ErrBadChallenge},
		{"non-zero padding bits", "YWJjZB==", 0, "", ErrBadChallenge},
		{"data after padding", "YQ==YQ==", 0, "", ErrBadChallenge},
		{"NUL", "YW\x00j", 0, "", ErrBadChallenge},
		{"8-bit", "YWJj\xff", 0, "", ErrBadChallenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeChallenge([]byte(tc.in), tc.max)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrBadChallenge) {
					t.Fatalf("DecodeChallenge(%q) = %q, %v; want %v", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want || got == nil {
				t.Fatalf("DecodeChallenge(%q) = %q (nil %v), %v; want %q", tc.in, got, got == nil, err, tc.want)
			}
		})
	}
}

func TestDecodeChallengeDefaultBound(t *testing.T) {
	ok := base64.StdEncoding.EncodeToString(make([]byte, MaxChallenge))
	if b, err := DecodeChallenge([]byte(ok), 0); err != nil || len(b) != MaxChallenge {
		t.Fatalf("MaxChallenge octets: %d, %v", len(b), err)
	}
	long := base64.StdEncoding.EncodeToString(make([]byte, MaxChallenge+1))
	if _, err := DecodeChallenge([]byte(long), -1); !errors.Is(err, ErrChallengeTooLong) {
		t.Fatalf("MaxChallenge+1 octets: %v", err)
	}
}
