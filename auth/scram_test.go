package auth

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// newTestSCRAM returns a SCRAM client whose nonce is fixed, to replay
// published exchanges.
func newTestSCRAM(t *testing.T, p SCRAMParams, nonce string) *SCRAM {
	t.Helper()
	m, err := NewSCRAM(p)
	if err != nil {
		t.Fatal(err)
	}
	m.nonce = func() (string, error) { return nonce, nil }
	return m
}

// RFC 5802 §5: the SCRAM-SHA-1 example exchange.
func TestSCRAMRFC5802(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil)}, "fyko+d2lbbFgONRv9qkxdawL")
	if err := m.Verify(); !errors.Is(err, ErrServerNotVerified) {
		t.Fatalf("Verify before the exchange: %v", err)
	}
	run(t, m, "SCRAM-SHA-1", []byte("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"), false, []exchange{
		{
			"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			true,
		},
		{"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "", false},
	})
	if err := m.Verify(); err != nil {
		t.Fatalf("Verify after a valid server signature: %v", err)
	}
}

// RFC 7677 §3: the SCRAM-SHA-256 example exchange.
func TestSCRAMRFC7677(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA256, User: "user", Password: fixed("pencil", nil)}, "rOprNGfwEbeRWgbNEkqO")
	run(t, m, "SCRAM-SHA-256", []byte("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"), false, []exchange{
		{
			"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			true,
		},
		{"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", "", false},
	})
	if err := m.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := m.Next([]byte("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("challenge after completion: %v, want ErrBadChallenge", err)
	}
}

// SASLprep (RFC 4013) of the user name and password: "ramo\u0301n" is
// sent as "ram\u00f3n" and "p\u212bssword" is hashed as "p\u00c5ssword".
// Expected values from the xdg-go/scram test data (an independent
// implementation), files sha-1-saslprep-non-normal.json and
// sha-256-saslprep-non-normal.json.
func TestSCRAMSASLprep(t *testing.T) {
	for _, tc := range []struct {
		hash     SCRAMHash
		name     string
		proof    string
		verifier string
	}{
		{SHA1, "SCRAM-SHA-1", "92sLIo0pB5IdEBOhBXx+t6Ew4pA=", "xS0F7g5YU4fvigpFAb8jTE8/S0E="},
		{SHA256, "SCRAM-SHA-256", "KXgIc8B+d5k3zx1P4rfs4TiybIlv11O85Jl1TrzEsfI=", "zG9u+MI5GPTROhnW/W1PUCKV4Uvp2SHzwFOZV9Hth/c="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestSCRAM(t, SCRAMParams{Hash: tc.hash, User: "ramo\u0301n", Password: fixed("p\u212bssword", nil)}, "clientNONCE")
			run(t, m, tc.name, []byte("n,,n=ram\u00f3n,r=clientNONCE"), false, []exchange{
				{
					"r=clientNONCEserverNONCE,s=c2FsdFNBTFRzYWx0,i=4096",
					"c=biws,r=clientNONCEserverNONCE,p=" + tc.proof,
					true,
				},
				{"v=" + tc.verifier, "", false},
			})
			if err := m.Verify(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSCRAMEscapesNamesAndSendsAuthzid(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA256, User: "a,b=c", Authzid: "boss=x", Password: fixed("pencil", nil)}, "abc")
	_, ir, err := m.Start()
	if err != nil {
		t.Fatal(err)
	}
	if want := "n,a=boss=3Dx,n=a=2Cb=3Dc,r=abc"; string(ir) != want {
		t.Fatalf("client-first %q, want %q", ir, want)
	}
	resp, err := m.Next([]byte("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096"))
	if err != nil {
		t.Fatal(err)
	}
	// c= carries the gs2 header (RFC 5802 §7 cbind-input).
	if want := "c=" + base64.StdEncoding.EncodeToString([]byte("n,a=boss=3Dx,")) + ",r=abcdef,p="; !strings.HasPrefix(string(resp), want) {
		t.Fatalf("client-final %q, want prefix %q", resp, want)
	}
}

func TestSCRAMChannelBindingFlags(t *testing.T) {
	data := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name     string
		p        SCRAMParams
		wantMech string
		wantGS2  string
		cbind    []byte
	}{
		{"no binding", SCRAMParams{}, "SCRAM-SHA-256", "n,,", []byte("n,,")},
		{"could bind, no -PLUS offered", SCRAMParams{AdvertiseBinding: true}, "SCRAM-SHA-256", "y,,", []byte("y,,")},
		{"tls-exporter", SCRAMParams{ChannelBinding: &ChannelBinding{Type: BindingTLSExporter, Data: data}}, "SCRAM-SHA-256-PLUS", "p=tls-exporter,,", append([]byte("p=tls-exporter,,"), data...)},
		{"tls-unique with authzid", SCRAMParams{Authzid: "z", ChannelBinding: &ChannelBinding{Type: BindingTLSUnique, Data: data}}, "SCRAM-SHA-256-PLUS", "p=tls-unique,a=z,", append([]byte("p=tls-unique,a=z,"), data...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			p.Hash, p.User, p.Password = SHA256, "user", fixed("pencil", nil)
			m := newTestSCRAM(t, p, "rOprNGfwEbeRWgbNEkqO")
			mech, ir, err := m.Start()
			if err != nil {
				t.Fatal(err)
			}
			if mech != tc.wantMech || string(ir) != tc.wantGS2+"n=user,r=rOprNGfwEbeRWgbNEkqO" {
				t.Fatalf("Start = %q, %q", mech, ir)
			}
			resp, err := m.Next([]byte("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
			if err != nil {
				t.Fatal(err)
			}
			if want := "c=" + base64.StdEncoding.EncodeToString(tc.cbind) + ","; !strings.HasPrefix(string(resp), want) {
				t.Fatalf("client-final %q, want prefix %q", resp, want)
			}
		})
	}
}

func TestNewSCRAMRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    SCRAMParams
		want error
	}{
		{"no hash", SCRAMParams{User: "u"}, ErrConfig},
		{"unknown binding", SCRAMParams{Hash: SHA256, ChannelBinding: &ChannelBinding{Type: "tls-foo", Data: []byte{1}}}, ErrConfig},
		{"empty binding", SCRAMParams{Hash: SHA256, ChannelBinding: &ChannelBinding{Type: BindingTLSExporter}}, ErrNoChannelBinding},
		{"bounds inverted", SCRAMParams{Hash: SHA1, MinIterations: 10, MaxIterations: 5}, ErrConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewSCRAM(tc.p); !errors.Is(err, tc.want) {
				t.Fatalf("NewSCRAM: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSCRAMBadCredentials(t *testing.T) {
	for _, tc := range []struct{ name, user, pass string }{
		{"empty user", "", "pencil"},
		{"user prepares to nothing", "\u00ad", "pencil"},
		{"control byte in password", "user", "pen\x07cil"},
		{"empty password", "user", ""},
		{"unassigned code point in password", "user", "pen\U000E0080cil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestSCRAM(t, SCRAMParams{Hash: SHA256, User: tc.user, Password: fixed(tc.pass, nil)}, "abc")
			_, _, err := m.Start()
			if !errors.Is(err, ErrBadCredential) {
				t.Fatalf("Start: %v, want ErrBadCredential", err)
			}
			if tc.pass != "" && strings.Contains(err.Error(), tc.pass) {
				t.Fatalf("error quotes the password: %v", err)
			}
			if !errors.Is(m.Verify(), ErrBadCredential) {
				t.Fatalf("Verify: %v", m.Verify())
			}
		})
	}
}

// RFC 5802 §5.1 prepares the user name as a query string, so an
// unassigned code point is allowed there.
func TestSCRAMUserUnassignedCodePoint(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA256, User: "us\U000E0080er", Password: fixed("pencil", nil)}, "abc")
	if _, _, err := m.Start(); err != nil {
		t.Fatal(err)
	}
}

// Hostile or broken server-first messages: each is a clear error, the
// exchange stops, and Verify reports it.
func TestSCRAMHostileServerFirst(t *testing.T) {
	const n = "fyko+d2lbbFgONRv9qkxdawL"
	for _, tc := range []struct {
		name, msg string
		want      error
	}{
		{"nonce does not extend ours", "r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
		{"nonce not extended", "r=" + n + ",s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
		{"nonce a prefix of ours", "r=fyko,s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
		{"absurd iteration count", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=2147483647", ErrBadChallenge},
		{"overflowing iteration count", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=99999999999999999999999", ErrBadChallenge},
		{"too few iterations", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=4095", ErrBadChallenge},
		{"zero iterations", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=0", ErrBadChallenge},
		{"negative iterations", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=-4096", ErrBadChallenge},
		{"signed iterations", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=+4096", ErrBadChallenge},
		{"leading zero", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=04096", ErrBadChallenge},
		{"salt not base64", "r=" + n + "x,s=QSXCR!Q6sek8bf92,i=4096", ErrBadChallenge},
		{"salt with a line break", "r=" + n + "x,s=QSXCR+Q6\nsek8bf92,i=4096", ErrBadChallenge},
		{"empty salt", "r=" + n + "x,s=,i=4096", ErrBadChallenge},
		{"fields out of order", "s=QSXCR+Q6sek8bf92,r=" + n + "x,i=4096", ErrBadChallenge},
		{"missing iteration count", "r=" + n + "x,s=QSXCR+Q6sek8bf92", ErrBadChallenge},
		{"mandatory extension", "m=foo,r=" + n + "x,s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
		{"malformed extension", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=4096,junk", ErrBadChallenge},
		{"control byte in nonce", "r=" + n + "\x01,s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
		{"not UTF-8", "r=" + n + "x,s=QSXCR+Q6sek8bf92,i=4096,x=\xff", ErrBadChallenge},
		{"server error instead", "e=other-error", ErrAuthFailed},
		{"empty", "", ErrBadChallenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestSCRAM(t, SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil)}, n)
			if _, _, err := m.Start(); err != nil {
				t.Fatal(err)
			}
			if tc.msg == "" {
				// The first empty challenge asks for the initial response
				// again; a second one is an error.
				if _, err := m.Next(nil); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			resp, err := m.Next([]byte(tc.msg))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next = %q, %v; want %v", resp, err, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("refusal took %v: the bound was checked after hashing", d)
			}
			if verr := m.Verify(); verr == nil {
				t.Fatalf("Verify after a refused challenge = nil")
			}
			if _, err := m.Next([]byte("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")); err == nil {
				t.Fatalf("Next after a failure succeeded")
			}
		})
	}
}

func TestSCRAMHostileServerFinal(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		want      error
	}{
		{"wrong signature", "v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", ErrServerNotVerified},
		{"signature of another exchange", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", ErrServerNotVerified},
		{"truncated signature", "v=rmF9pqV8S7suAoZWja4dJRkF", ErrServerNotVerified},
		{"server error", "e=invalid-proof", ErrAuthFailed},
		{"no verifier", "x=rmF9pqV8S7suAoZWja4dJRkFsKQ=", ErrBadChallenge},
		{"empty verifier", "v=", ErrBadChallenge},
		{"verifier not base64", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ", ErrBadChallenge},
		{"empty", "", ErrBadChallenge},
		{"another server-first", "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", ErrBadChallenge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestSCRAM(t, SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil)}, "fyko+d2lbbFgONRv9qkxdawL")
			m.Start()
			if _, err := m.Next([]byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")); err != nil {
				t.Fatal(err)
			}
			resp, err := m.Next([]byte(tc.msg))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next = %q, %v; want %v", resp, err, tc.want)
			}
			// A server that answers 235 anyway has not authenticated itself.
			if verr := m.Verify(); !errors.Is(verr, tc.want) || !errors.Is(verr, err) {
				t.Fatalf("Verify = %v, want the exchange's error %v", verr, err)
			}
		})
	}
}

// A server that answers the client-final message with 235 and no
// server-final message has not proved it knows the password.
func TestSCRAMSuccessWithoutServerFinal(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil)}, "fyko+d2lbbFgONRv9qkxdawL")
	m.Start()
	if _, err := m.Next([]byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")); err != nil {
		t.Fatal(err)
	}
	err := m.Verify()
	if !errors.Is(err, ErrServerNotVerified) || !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("Verify = %v, want ErrServerNotVerified", err)
	}
}

func TestSCRAMIterationBounds(t *testing.T) {
	p := SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil), MinIterations: 100, MaxIterations: 4000}
	m := newTestSCRAM(t, p, "fyko+d2lbbFgONRv9qkxdawL")
	m.Start()
	if _, err := m.Next([]byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096")); !errors.Is(err, ErrBadChallenge) {
		t.Fatalf("4096 iterations with a maximum of 4000: %v", err)
	}
	m = newTestSCRAM(t, p, "fyko+d2lbbFgONRv9qkxdawL")
	m.Start()
	if _, err := m.Next([]byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=100")); err != nil {
		t.Fatalf("100 iterations with a minimum of 100: %v", err)
	}
}

func TestSCRAMReplaysClientFirst(t *testing.T) {
	m := newTestSCRAM(t, SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil)}, "fyko+d2lbbFgONRv9qkxdawL")
	m.Start()
	resp, err := m.Next(nil)
	if err != nil || string(resp) != "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL" {
		t.Fatalf("Next(empty) = %q, %v", resp, err)
	}
	if m.IsSecret(0) {
		t.Fatalf("client-first marked secret")
	}
	resp, err = m.Next([]byte("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"))
	if err != nil || !strings.HasSuffix(string(resp), "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=") {
		t.Fatalf("client-final = %q, %v", resp, err)
	}
	if !m.IsSecret(1) {
		t.Fatalf("client-final not secret")
	}
}

func TestRandomNonce(t *testing.T) {
	a, err := randomNonce()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := randomNonce()
	if a == b || len(a) != 32 || !isPrintable(a) {
		t.Fatalf("nonces %q, %q", a, b)
	}
}
