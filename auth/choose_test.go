package auth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

func TestChoose(t *testing.T) {
	tls13, _ := handshake(t, tls.VersionTLS13, newCert(t, x509.ECDSAWithSHA256))
	tls12, _ := handshake(t, tls.VersionTLS12, newCert(t, x509.ECDSAWithSHA256))
	// TLS 1.2 with an Ed25519 certificate and no tls-unique: TLS, but no
	// channel binding.
	unbound, _ := handshake(t, tls.VersionTLS12, newCert(t, x509.PureEd25519))
	unbound.TLSUnique = nil

	pw := func(c Config) Config {
		c.User = "user"
		c.Password = fixed("pencil", nil)
		return c
	}
	tok := func(c Config) Config {
		c.User = "user@example.com"
		c.Token = fixed("ya29.token", nil)
		return c
	}
	all := []string{"PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}

	for _, tc := range []struct {
		name    string
		offered []string
		cs      *tls.ConnectionState
		cfg     Config
		mech    string // chosen mechanism; empty when an error is expected
		irHas   string // prefix of the initial response (SCRAM gs2 header)
		err     []error
		msg     []string // in the error message
	}{
		{name: "strongest over TLS 1.3", offered: all, cs: &tls13, cfg: pw(Config{}), mech: "SCRAM-SHA-256-PLUS", irHas: "p=tls-exporter,,"},
		{name: "SHA-1-PLUS over TLS 1.2", offered: []string{"SCRAM-SHA-1", "SCRAM-SHA-1-PLUS", "PLAIN"}, cs: &tls12, cfg: pw(Config{}), mech: "SCRAM-SHA-1-PLUS", irHas: "p=tls-unique,,"},
		{name: "-PLUS offered but no binding data: n", offered: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, cs: &unbound, cfg: pw(Config{}), mech: "SCRAM-SHA-256", irHas: "n,,"},
		{name: "no -PLUS offered though binding is possible: y", offered: []string{"SCRAM-SHA-256", "PLAIN"}, cs: &tls13, cfg: pw(Config{}), mech: "SCRAM-SHA-256", irHas: "y,,"},
		{name: "SHA-256 before SHA-1-PLUS", offered: []string{"SCRAM-SHA-256", "SCRAM-SHA-1-PLUS"}, cs: &tls13, cfg: pw(Config{}), mech: "SCRAM-SHA-256", irHas: "n,,"},
		{name: "SCRAM without TLS: n", offered: []string{"SCRAM-SHA-256", "PLAIN"}, cfg: pw(Config{}), mech: "SCRAM-SHA-256", irHas: "n,,"},
		{name: "PLAIN over TLS", offered: []string{"LOGIN", "PLAIN"}, cs: &tls13, cfg: pw(Config{}), mech: "PLAIN"},
		{name: "LOGIN before CRAM-MD5", offered: []string{"CRAM-MD5", "LOGIN"}, cs: &tls12, cfg: pw(Config{}), mech: "LOGIN"},
		{name: "names are case-insensitive", offered: []string{"plain"}, cs: &tls13, cfg: pw(Config{}), mech: "PLAIN"},
		{name: "CRAM-MD5 without TLS", offered: []string{"PLAIN", "LOGIN", "CRAM-MD5"}, cfg: pw(Config{}), mech: "CRAM-MD5"},
		{
			name: "PLAIN and LOGIN refused without TLS", offered: []string{"PLAIN", "LOGIN"}, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrInsecure},
			msg: []string{"PLAIN, LOGIN", "password", "--allow-insecure-auth", "allow_insecure_auth = true"},
		},
		{name: "cleartext allowed explicitly", offered: []string{"PLAIN", "LOGIN"}, cfg: pw(Config{AllowInsecure: true}), mech: "PLAIN"},
		{
			name: "unfinished handshake is no TLS", offered: []string{"PLAIN"}, cs: &tls.ConnectionState{Version: tls.VersionTLS13}, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrInsecure},
		},
		{name: "OAUTHBEARER with a token", offered: []string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, cs: &tls13, cfg: tok(Config{}), mech: "OAUTHBEARER"},
		{name: "XOAUTH2 with a token", offered: []string{"LOGIN", "XOAUTH2"}, cs: &tls13, cfg: tok(Config{}), mech: "XOAUTH2"},
		{name: "token preferred to password", offered: []string{"SCRAM-SHA-256", "XOAUTH2"}, cs: &tls13, cfg: tok(pw(Config{})), mech: "XOAUTH2"},
		{
			name: "token refused without TLS", offered: []string{"XOAUTH2", "OAUTHBEARER"}, cfg: tok(Config{}),
			err: []error{ErrNoMechanism, ErrInsecure}, msg: []string{"OAUTHBEARER, XOAUTH2", "OAuth 2.0 token", "--allow-insecure-auth"},
		},
		{
			name: "server wants a password, account has a token", offered: []string{"PLAIN", "LOGIN"}, cs: &tls13, cfg: tok(Config{}),
			err: []error{ErrNoMechanism, ErrNoSecret}, msg: []string{"PLAIN needs a password, and the account has none"},
		},
		{
			name: "server wants a token, account has a password", offered: []string{"XOAUTH2"}, cs: &tls13, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrNoSecret}, msg: []string{"XOAUTH2 needs an OAuth 2.0 token"},
		},
		{name: "EXTERNAL with a client certificate", offered: []string{"PLAIN", "EXTERNAL"}, cs: &tls13, cfg: pw(Config{ClientCert: true}), mech: "EXTERNAL"},
		{
			name: "EXTERNAL needs TLS", offered: []string{"EXTERNAL"}, cfg: Config{ClientCert: true},
			err: []error{ErrNoMechanism, ErrNoSecret}, msg: []string{"no TLS"},
		},
		{
			name: "EXTERNAL needs a certificate", offered: []string{"EXTERNAL"}, cs: &tls13, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrNoSecret}, msg: []string{"TLS client certificate"},
		},
		{name: "configured mechanism wins", offered: all, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"PLAIN"}}), mech: "PLAIN"},
		{name: "unknown name anywhere in the configured list", offered: all, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"DIGEST-MD5X", "LOGIN"}}), err: []error{ErrConfig}},
		{name: "first configured the server offers", offered: []string{"LOGIN", "PLAIN"}, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"cram-md5", "login", "plain"}}), mech: "LOGIN"},
		{
			name: "configured mechanism not offered", offered: []string{"PLAIN", "LOGIN"}, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"CRAM-MD5"}}),
			err: []error{ErrNoMechanism, ErrNotOffered}, msg: []string{"does not offer CRAM-MD5", "it offers PLAIN, LOGIN"},
		},
		{
			name: "configured cleartext without TLS", offered: []string{"PLAIN"}, cfg: pw(Config{Mechanisms: []string{"PLAIN"}}),
			err: []error{ErrNoMechanism, ErrInsecure}, msg: []string{"--allow-insecure-auth"},
		},
		{
			name: "configured -PLUS without TLS", offered: []string{"SCRAM-SHA-256-PLUS"}, cfg: pw(Config{Mechanisms: []string{"scram-sha-256-plus"}}),
			err: []error{ErrNoMechanism, ErrNoChannelBinding}, msg: []string{"SCRAM-SHA-256-PLUS needs channel binding"},
		},
		{
			name: "configured -PLUS then plain SCRAM, no binding data", offered: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, cs: &unbound,
			cfg: pw(Config{Mechanisms: []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}}), mech: "SCRAM-SHA-256", irHas: "n,,",
		},
		{
			name: "forced tls-unique unavailable on TLS 1.3", offered: []string{"SCRAM-SHA-256-PLUS"}, cs: &tls13, cfg: pw(Config{ChannelBinding: BindingTLSUnique}),
			err: []error{ErrNoMechanism, ErrNoChannelBinding},
		},
		{name: "forced tls-server-end-point", offered: []string{"SCRAM-SHA-256-PLUS"}, cs: &tls13, cfg: pw(Config{ChannelBinding: BindingTLSServerEndPoint}), mech: "SCRAM-SHA-256-PLUS", irHas: "p=tls-server-end-point,,"},
		{
			name: "no AUTH advertised", offered: nil, cs: &tls13, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrNotOffered}, msg: []string{"offers no authentication mechanism"},
		},
		{
			name: "only unknown mechanisms", offered: []string{"GSSAPI", "NTLM\x1b[2J"}, cs: &tls13, cfg: pw(Config{}),
			err: []error{ErrNoMechanism, ErrNotOffered}, msg: []string{"GSSAPI, NTLM\\x1b[2J"},
		},
		{name: "unknown configured mechanism", offered: all, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"DIGEST-MD5"}}), err: []error{ErrConfig}, msg: []string{"DIGEST-MD5"}},
		{name: "configured mechanism without its secret", offered: all, cs: &tls13, cfg: pw(Config{Mechanisms: []string{"XOAUTH2"}}), err: []error{ErrConfig}, msg: []string{"OAuth 2.0 token"}},
		{name: "no credentials", offered: all, cs: &tls13, cfg: Config{User: "user"}, err: []error{ErrConfig}},
		{name: "password without user", offered: all, cs: &tls13, cfg: Config{Password: fixed("pw", nil)}, err: []error{ErrConfig}},
		{name: "unknown channel binding type", offered: all, cs: &tls13, cfg: pw(Config{ChannelBinding: "tls-foo"}), err: []error{ErrConfig}},
		{name: "inverted iteration bounds", offered: all, cs: &tls13, cfg: pw(Config{MinIterations: 10, MaxIterations: 5}), err: []error{ErrConfig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Choose(tc.offered, tc.cs, tc.cfg)
			if tc.mech == "" {
				if err == nil {
					mech, _, _ := m.Start()
					t.Fatalf("chose %s, want an error", mech)
				}
				for _, want := range tc.err {
					if !errors.Is(err, want) {
						t.Errorf("error %v does not match %v", err, want)
					}
				}
				for _, want := range tc.msg {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q lacks %q", err, want)
					}
				}
				if errors.Is(err, ErrNoMechanism) {
					var ce *ChooseError
					if !errors.As(err, &ce) || len(ce.Refused) == 0 && len(tc.offered) > 0 {
						t.Errorf("error %v is not a *ChooseError with refusals", err)
					}
				}
				if strings.ContainsRune(err.Error(), 0x1b) {
					t.Errorf("error carries server control bytes: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose: %v", err)
			}
			mech, ir, err := m.Start()
			if err != nil {
				t.Fatal(err)
			}
			if mech != tc.mech {
				t.Fatalf("chose %s, want %s", mech, tc.mech)
			}
			if !strings.HasPrefix(string(ir), tc.irHas) {
				t.Fatalf("initial response %q, want prefix %q", ir, tc.irHas)
			}
		})
	}
}

// Choose never reads a secret: the prompt, if any, comes when the chosen
// mechanism starts.
func TestChooseIsLazy(t *testing.T) {
	var pwCalls, tokCalls int
	cfg := Config{User: "u", Password: fixed("pw", &pwCalls), Token: fixed("tok", &tokCalls)}
	m, err := Choose([]string{"PLAIN", "XOAUTH2"}, &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pwCalls+tokCalls != 0 {
		t.Fatalf("Choose read %d passwords and %d tokens", pwCalls, tokCalls)
	}
	if _, _, err := m.Start(); err != nil {
		t.Fatal(err)
	}
	if pwCalls != 0 || tokCalls != 1 {
		t.Fatalf("Start read %d passwords and %d tokens, want 0 and 1", pwCalls, tokCalls)
	}
}

// A TLS state not made by crypto/tls has no exporter: no binding, no panic.
func TestChooseHandMadeTLSState(t *testing.T) {
	cs := &tls.ConnectionState{HandshakeComplete: true, Version: tls.VersionTLS13}
	m, err := Choose([]string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, cs, Config{User: "u", Password: fixed("pw", nil)})
	if err != nil {
		t.Fatal(err)
	}
	if mech, ir, err := m.Start(); err != nil || mech != "SCRAM-SHA-256" || !strings.HasPrefix(string(ir), "n,,") {
		t.Fatalf("Start = %s, %q, %v", mech, ir, err)
	}
}

func TestChooseErrorRefusals(t *testing.T) {
	_, err := Choose([]string{"PLAIN", "SCRAM-SHA-256-PLUS"}, nil, Config{User: "u", Password: fixed("p", nil), Mechanisms: []string{"SCRAM-SHA-256-PLUS", "PLAIN", "LOGIN"}})
	var ce *ChooseError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v", err)
	}
	want := []struct {
		mech string
		err  error
	}{
		{"SCRAM-SHA-256-PLUS", ErrNoChannelBinding},
		{"PLAIN", ErrInsecure},
		{"LOGIN", ErrNotOffered},
	}
	if len(ce.Refused) != len(want) {
		t.Fatalf("refusals %v", ce.Refused)
	}
	for i, w := range want {
		if ce.Refused[i].Mechanism != w.mech || !errors.Is(ce.Refused[i].Err, w.err) {
			t.Errorf("refusal %d = %s: %v, want %s: %v", i, ce.Refused[i].Mechanism, ce.Refused[i].Err, w.mech, w.err)
		}
	}
	// ErrInsecure decides: it names the setting that would allow a login.
	if ce.Reason != ErrInsecure {
		t.Fatalf("reason %v, want ErrInsecure", ce.Reason)
	}
}

func TestNames(t *testing.T) {
	got := strings.Join(Names(), " ")
	want := "OAUTHBEARER XOAUTH2 EXTERNAL SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 PLAIN LOGIN CRAM-MD5"
	if got != want {
		t.Fatalf("Names() = %s, want %s", got, want)
	}
}
