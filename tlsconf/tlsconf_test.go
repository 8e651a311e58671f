package tlsconf_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/tlsconf"
	"github.com/outbox-smtp/outbox/tlsconf/tlstest"
)

// handshake runs a TLS handshake over loopback TCP between a server with
// the given configuration and a client using cfg, and returns the client's
// result. (net.Pipe would deadlock when the client sends an alert while the
// server is still writing its flight.)
func handshake(t *testing.T, cfg *tls.Config, server *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	deadline := time.Now().Add(10 * time.Second)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(deadline)
	s.SetDeadline(deadline)
	srvErr := make(chan error, 1)
	go func() {
		conn := tls.Server(s, server)
		err := conn.Handshake()
		if err == nil {
			// Give the client something to read so that TLS 1.3 session
			// tickets, sent after the handshake, reach it.
			_, err = conn.Write([]byte("x"))
		}
		s.Close()
		srvErr <- err
	}()
	conn := tls.Client(c, cfg)
	err = conn.Handshake()
	if err == nil {
		buf := make([]byte, 1)
		_, err = conn.Read(buf)
	}
	// Close the socket, not the TLS connection: nobody reads a close_notify.
	c.Close()
	<-srvErr
	return conn.ConnectionState(), err
}

func serverConfig(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: certs}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustConfig(t *testing.T, p *tlsconf.Policy) *tls.Config {
	t.Helper()
	cfg, err := p.Config()
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	return cfg
}

func TestVerification(t *testing.T) {
	ca := tlstest.NewCA()
	other := tlstest.NewCA()
	now := time.Now()
	const name = "mail.example.test"
	valid := ca.ValidLeaf(name)
	expired := ca.Leaf([]string{name}, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	future := ca.Leaf([]string{name}, now.Add(24*time.Hour), now.Add(48*time.Hour))
	wrongName := ca.ValidLeaf("other.example.test", "192.0.2.1")
	foreign := other.ValidLeaf(name)
	self := tlstest.SelfSigned([]string{name}, now.Add(-time.Hour), now.Add(time.Hour))
	caFile := writeFile(t, "ca.pem", ca.PEM())
	selfFile := writeFile(t, "self.pem", tlstest.CertPEM(self))

	tests := []struct {
		name   string
		policy tlsconf.Policy
		server tls.Certificate
		want   tlsconf.VerifyKind // -1: success
	}{
		{"valid with CA file", tlsconf.Policy{ServerName: name, CAFile: caFile}, valid, -1},
		{"valid with pool", tlsconf.Policy{ServerName: name, RootCAs: ca.Pool()}, valid, -1},
		{"unknown authority", tlsconf.Policy{ServerName: name, CAFile: caFile}, foreign, tlsconf.KindUnknownAuthority},
		{"self-signed not trusted", tlsconf.Policy{ServerName: name, CAFile: caFile}, self, tlsconf.KindUnknownAuthority},
		{"self-signed given as CA", tlsconf.Policy{ServerName: name, CAFile: selfFile}, self, -1},
		{"expired", tlsconf.Policy{ServerName: name, CAFile: caFile}, expired, tlsconf.KindExpired},
		{"not yet valid", tlsconf.Policy{ServerName: name, CAFile: caFile}, future, tlsconf.KindNotYetValid},
		{"wrong name", tlsconf.Policy{ServerName: name, CAFile: caFile}, wrongName, tlsconf.KindWrongName},
		{"server name override", tlsconf.Policy{ServerName: "other.example.test", CAFile: caFile}, wrongName, -1},
		{"IP address name", tlsconf.Policy{ServerName: "192.0.2.1", CAFile: caFile}, wrongName, -1},
		{"wrong IP address", tlsconf.Policy{ServerName: "192.0.2.2", CAFile: caFile}, wrongName, tlsconf.KindWrongName},
		{"clock moved past expiry", tlsconf.Policy{ServerName: name, CAFile: caFile, Time: func() time.Time { return now.Add(48 * time.Hour) }}, valid, tlsconf.KindExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := handshake(t, mustConfig(t, &tt.policy), serverConfig(tt.server))
			if tt.want < 0 {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			var ve *tlsconf.VerifyError
			if !errors.As(fmt.Errorf("wrapped: %w", err), &ve) {
				t.Fatalf("error %v (%T) is not a *VerifyError", err, err)
			}
			if ve.Kind != tt.want {
				t.Fatalf("kind = %v, want %v (%v)", ve.Kind, tt.want, err)
			}
			if ve.Hint() == "" {
				t.Errorf("no hint for %v", ve.Kind)
			}
			if !strings.Contains(ve.Error(), tt.want.String()) {
				t.Errorf("message %q does not say %q", ve.Error(), tt.want)
			}
		})
	}
}

func TestExpiredMessageNamesTheDate(t *testing.T) {
	ca := tlstest.NewCA()
	end := time.Date(2020, 3, 4, 5, 6, 7, 0, time.UTC)
	leaf := ca.Leaf([]string{"mx.example.test"}, end.Add(-time.Hour), end)
	_, err := handshake(t, mustConfig(t, &tlsconf.Policy{ServerName: "mx.example.test", RootCAs: ca.Pool()}), serverConfig(leaf))
	if err == nil || !strings.Contains(err.Error(), "expired on 2020-03-04 05:06:07 UTC") {
		t.Fatalf("err = %v", err)
	}
}

func TestPins(t *testing.T) {
	ca := tlstest.NewCA()
	const name = "mail.example.test"
	leaf := ca.ValidLeaf(name)
	other := ca.ValidLeaf(name)
	stranger := tlstest.NewCA()
	tests := []struct {
		name   string
		pins   []tlsconf.Pin
		server tls.Certificate
		ok     bool
	}{
		{"certificate pin", []tlsconf.Pin{tlsconf.CertPin(leaf.Leaf)}, leaf, true},
		{"key pin", []tlsconf.Pin{tlsconf.KeyPin(leaf.Leaf)}, leaf, true},
		{"CA key pin", []tlsconf.Pin{tlsconf.KeyPin(ca.Cert)}, leaf, true},
		{"one of several", []tlsconf.Pin{tlsconf.CertPin(other.Leaf), tlsconf.KeyPin(leaf.Leaf)}, leaf, true},
		{"other certificate", []tlsconf.Pin{tlsconf.CertPin(other.Leaf)}, leaf, false},
		// A certificate sent along but not part of the verified chain must
		// not satisfy a pin.
		{"unverified extra certificate", []tlsconf.Pin{tlsconf.CertPin(stranger.Cert)}, tls.Certificate{
			Certificate: [][]byte{leaf.Certificate[0], stranger.Cert.Raw},
			PrivateKey:  leaf.PrivateKey,
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool(), Pins: tt.pins}
			_, err := handshake(t, mustConfig(t, p), serverConfig(tt.server))
			if tt.ok {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			var ve *tlsconf.VerifyError
			if !errors.As(err, &ve) || ve.Kind != tlsconf.KindPinMismatch {
				t.Fatalf("err = %v, want a pin mismatch", err)
			}
		})
	}
}

// TestPinCheckedOnResumption resumes a session made under one pin with a
// configuration that pins something else: the resumed handshake must fail.
func TestPinCheckedOnResumption(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ca := tlstest.NewCA()
			const name = "mail.example.test"
			leaf := ca.ValidLeaf(name)
			server := serverConfig(leaf)
			server.MaxVersion = version
			cache := tls.NewLRUClientSessionCache(4)

			first := mustConfig(t, &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool(), Pins: []tlsconf.Pin{tlsconf.KeyPin(leaf.Leaf)}})
			first.ClientSessionCache = cache
			if _, err := handshake(t, first, server); err != nil {
				t.Fatalf("first handshake: %v", err)
			}

			second := mustConfig(t, &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool(), Pins: []tlsconf.Pin{tlsconf.KeyPin(ca.ValidLeaf(name).Leaf)}})
			second.ClientSessionCache = cache
			verify := second.VerifyConnection
			var resumed bool
			second.VerifyConnection = func(cs tls.ConnectionState) error {
				resumed = cs.DidResume
				return verify(cs)
			}
			_, err := handshake(t, second, server)
			if !resumed {
				t.Fatal("the second handshake did not resume; the test proves nothing")
			}
			var ve *tlsconf.VerifyError
			if !errors.As(err, &ve) || ve.Kind != tlsconf.KindPinMismatch {
				t.Fatalf("resumed handshake: err = %v, want a pin mismatch", err)
			}
		})
	}
}

func TestMinVersion(t *testing.T) {
	ca := tlstest.NewCA()
	const name = "mail.example.test"
	old := serverConfig(ca.ValidLeaf(name))
	old.MinVersion, old.MaxVersion = tls.VersionTLS11, tls.VersionTLS11

	if _, err := handshake(t, mustConfig(t, &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool()}), old); err == nil {
		t.Fatal("TLS 1.1 accepted by default")
	}
	cs, err := handshake(t, mustConfig(t, &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS11}), old)
	if err != nil || cs.Version != tls.VersionTLS11 {
		t.Fatalf("explicit TLS 1.1: version %x, err %v", cs.Version, err)
	}

	modern := serverConfig(ca.ValidLeaf(name))
	modern.MaxVersion = tls.VersionTLS12
	if _, err := handshake(t, mustConfig(t, &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool(), MinVersion: tls.VersionTLS13}), modern); err == nil {
		t.Fatal("TLS 1.2 accepted with a 1.3 minimum")
	}
}

func TestClientCertificate(t *testing.T) {
	ca := tlstest.NewCA()
	const name = "mail.example.test"
	client := ca.ValidLeaf("client.example.test")
	certFile := writeFile(t, "client.pem", tlstest.CertPEM(client))
	keyFile := writeFile(t, "client.key", tlstest.KeyPEM(client))
	bothFile := writeFile(t, "both.pem", append(tlstest.CertPEM(client), tlstest.KeyPEM(client)...))

	for _, p := range []tlsconf.Policy{
		{ServerName: name, RootCAs: ca.Pool(), ClientCertFile: certFile, ClientKeyFile: keyFile},
		{ServerName: name, RootCAs: ca.Pool(), ClientCertFile: bothFile},
	} {
		server := serverConfig(ca.ValidLeaf(name))
		server.ClientAuth = tls.RequireAndVerifyClientCert
		server.ClientCAs = ca.Pool()
		var got string
		server.VerifyConnection = func(cs tls.ConnectionState) error {
			got = cs.PeerCertificates[0].Subject.CommonName
			return nil
		}
		if _, err := handshake(t, mustConfig(t, &p), server); err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if got != "client.example.test" {
			t.Errorf("server saw client %q", got)
		}
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	garbage := writeFile(t, "garbage.pem", []byte("not a certificate\n"))
	ca := tlstest.NewCA()
	leaf := ca.ValidLeaf("x.example.test")
	certOnly := writeFile(t, "cert.pem", tlstest.CertPEM(leaf))
	tests := []struct {
		policy  tlsconf.Policy
		setting string
	}{
		{tlsconf.Policy{CAFile: missing}, "tls_ca"},
		{tlsconf.Policy{CAFile: garbage}, "tls_ca"},
		{tlsconf.Policy{ClientCertFile: missing}, "tls_client_cert"},
		{tlsconf.Policy{ClientCertFile: certOnly}, "tls_client_cert"},
		{tlsconf.Policy{ClientCertFile: certOnly, ClientKeyFile: garbage}, "tls_client_key"},
		{tlsconf.Policy{ClientKeyFile: garbage}, "tls_client_cert"},
	}
	for _, tt := range tests {
		tt.policy.ServerName = "x.example.test"
		_, err := tt.policy.Config()
		var fe *tlsconf.FileError
		if !errors.As(err, &fe) || fe.Setting != tt.setting || fe.Hint() == "" {
			t.Errorf("%+v: err = %v, want a FileError for %s", tt.policy, err, tt.setting)
		}
	}
	if _, err := (&tlsconf.Policy{}).Config(); !errors.Is(err, tlsconf.ErrNoServerName) {
		t.Errorf("no server name: err = %v", err)
	}
}

func TestInspect(t *testing.T) {
	ca := tlstest.NewCA()
	const name = "mail.example.test"
	leaf := ca.ValidLeaf(name, "127.0.0.1")
	server := serverConfig(tls.Certificate{Certificate: [][]byte{leaf.Certificate[0], ca.Cert.Raw}, PrivateKey: leaf.PrivateKey})

	good := &tlsconf.Policy{ServerName: name, RootCAs: ca.Pool()}
	cfg, err := good.ProbeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := handshake(t, cfg, server)
	if err != nil {
		t.Fatal(err)
	}
	r := tlsconf.Inspect(cs, good)
	if !r.Verified || r.Err != nil || r.Version != "TLS 1.3" || r.CipherSuite == "" || r.ServerName != name {
		t.Fatalf("report = %+v", r)
	}
	if len(r.Chain) != 2 {
		t.Fatalf("chain has %d certificates", len(r.Chain))
	}
	c := r.Chain[0]
	if c.Subject != "CN="+name || !strings.Contains(c.Issuer, "outbox test CA") || !c.NotAfter.Equal(leaf.Leaf.NotAfter) {
		t.Errorf("leaf = %+v", c)
	}
	if strings.Join(c.DNSNames, ",") != name || strings.Join(c.IPAddresses, ",") != "127.0.0.1" {
		t.Errorf("SANs = %v %v", c.DNSNames, c.IPAddresses)
	}
	if c.SHA256 != tlsconf.CertPin(leaf.Leaf) || c.KeySHA256 != tlsconf.KeyPin(leaf.Leaf) || !r.Chain[1].IsCA {
		t.Errorf("fingerprints or CA flag wrong: %+v", r.Chain)
	}

	// The probe configuration completes the handshake with an untrusted
	// server so that the report can say why it fails.
	bad := &tlsconf.Policy{ServerName: name, RootCAs: tlstest.NewCA().Pool()}
	cfg, err = bad.ProbeConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err = handshake(t, cfg, server)
	if err != nil {
		t.Fatal(err)
	}
	r = tlsconf.Inspect(cs, bad)
	var ve *tlsconf.VerifyError
	if r.Verified || !errors.As(r.Err, &ve) || ve.Kind != tlsconf.KindUnknownAuthority || len(r.Chain) != 2 {
		t.Fatalf("report = %+v", r)
	}
}

func TestParsePin(t *testing.T) {
	ca := tlstest.NewCA()
	want := tlsconf.KeyPin(ca.Cert)
	hexPin := strings.ToLower(strings.ReplaceAll(want.Hex(), ":", ""))
	for _, s := range []string{
		want.String(),
		"sha256/" + strings.TrimPrefix(want.String(), "sha256/"),
		"sha256//" + strings.TrimPrefix(want.String(), "sha256/"),
		strings.TrimPrefix(want.String(), "sha256/"),
		want.Hex(),
		"sha256:" + want.Hex(),
		"SHA256:" + hexPin,
		hexPin,
	} {
		got, err := tlsconf.ParsePin(s)
		if err != nil || got != want {
			t.Errorf("ParsePin(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "sha256/", "abcd", "sha256:" + hexPin[:62], "md5:" + hexPin, "sha256/" + strings.Repeat("A", 40)} {
		if _, err := tlsconf.ParsePin(s); err == nil {
			t.Errorf("ParsePin(%q) succeeded", s)
		}
	}
	if !want.Matches(ca.Cert) || tlsconf.CertPin(ca.Cert).Matches(tlstest.NewCA().Cert) {
		t.Error("Matches is wrong")
	}
}

func TestParseModeAndVersion(t *testing.T) {
	for in, want := range map[string]tlsconf.Mode{"starttls": tlsconf.ModeStartTLS, "IMPLICIT": tlsconf.ModeImplicit, " none ": tlsconf.ModeNone} {
		if got, err := tlsconf.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "tls", "ssl", "start-tls"} {
		if _, err := tlsconf.ParseMode(bad); err == nil {
			t.Errorf("ParseMode(%q) succeeded", bad)
		}
	}
	for in, want := range map[string]uint16{"1.2": tls.VersionTLS12, "TLS1.3": tls.VersionTLS13, "tls 1.1": tls.VersionTLS11, "1.0": tls.VersionTLS10} {
		if got, err := tlsconf.ParseVersion(in); err != nil || got != want {
			t.Errorf("ParseVersion(%q) = %x, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "1.4", "ssl3", "2"} {
		if _, err := tlsconf.ParseVersion(bad); err == nil {
			t.Errorf("ParseVersion(%q) succeeded", bad)
		}
	}
}

func TestVerifyWithoutCertificate(t *testing.T) {
	p := &tlsconf.Policy{ServerName: "x.example.test", RootCAs: x509.NewCertPool()}
	var ve *tlsconf.VerifyError
	if err := p.Verify(tls.ConnectionState{}); !errors.As(err, &ve) || ve.Kind != tlsconf.KindNoCertificate {
		t.Fatalf("err = %v", err)
	}
}
