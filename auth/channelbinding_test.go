package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

const testHost = "mail.example.test"

// newCert makes a self-signed certificate for testHost, signed with alg.
func newCert(t *testing.T, alg x509.SignatureAlgorithm) tls.Certificate {
	t.Helper()
	var key crypto.Signer
	var err error
	switch alg {
	case x509.PureEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case x509.ECDSAWithSHA384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: testHost},
		DNSNames:              []string{testHost},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		SignatureAlgorithm:    alg,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// handshake runs a verified TLS handshake over an in-memory connection and
// returns both sides' state.
func handshake(t *testing.T, version uint16, cert tls.Certificate) (client, server tls.ConnectionState) {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	cc := tls.Client(c1, &tls.Config{ServerName: testHost, RootCAs: roots, MinVersion: version, MaxVersion: version})
	sc := tls.Server(c2, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: version, MaxVersion: version})
	errc := make(chan error, 1)
	go func() { errc <- sc.Handshake() }()
	if err := cc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return cc.ConnectionState(), sc.ConnectionState()
}

func TestChannelBindingTLS13(t *testing.T) {
	cs, ss := handshake(t, tls.VersionTLS13, newCert(t, x509.ECDSAWithSHA256))
	cb, err := ChannelBindingFromTLS(&cs, "")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ss.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != BindingTLSExporter || !bytes.Equal(cb.Data, want) || len(cb.Data) != 32 {
		t.Fatalf("binding %s %x, want tls-exporter %x (the server's export)", cb.Type, cb.Data, want)
	}
	// RFC 9266 §3: tls-unique is not defined for TLS 1.3.
	if _, err := ChannelBindingFromTLS(&cs, BindingTLSUnique); !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("tls-unique on TLS 1.3: %v, want ErrNoChannelBinding", err)
	}
	sep, err := ChannelBindingFromTLS(&cs, BindingTLSServerEndPoint)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(cs.PeerCertificates[0].Raw); !bytes.Equal(sep.Data, sum[:]) {
		t.Fatalf("tls-server-end-point %x, want %x", sep.Data, sum)
	}
}

func TestChannelBindingTLS12(t *testing.T) {
	cs, ss := handshake(t, tls.VersionTLS12, newCert(t, x509.ECDSAWithSHA256))
	cb, err := ChannelBindingFromTLS(&cs, "")
	if err != nil {
		t.Fatal(err)
	}
	if cb.Type != BindingTLSUnique || !bytes.Equal(cb.Data, ss.TLSUnique) || len(cb.Data) == 0 {
		t.Fatalf("binding %s %x, want tls-unique %x (the server's)", cb.Type, cb.Data, ss.TLSUnique)
	}
	if _, err := ChannelBindingFromTLS(&cs, BindingTLSExporter); !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("tls-exporter on TLS 1.2: %v, want ErrNoChannelBinding", err)
	}
	// Without tls-unique (a resumed session without the extended master
	// secret) the certificate hash is used.
	noUnique := cs
	noUnique.TLSUnique = nil
	cb, err = ChannelBindingFromTLS(&noUnique, "")
	if err != nil || cb.Type != BindingTLSServerEndPoint {
		t.Fatalf("without tls-unique: %v, %v", cb, err)
	}
}

// RFC 5929 §4.1: the certificate's signature hash, with MD5 and SHA-1
// replaced by SHA-256; compared with xdg-go/scram's independent
// implementation.
func TestTLSServerEndPointHashes(t *testing.T) {
	for _, tc := range []struct {
		alg  x509.SignatureAlgorithm
		hash func([]byte) []byte
	}{
		{x509.ECDSAWithSHA256, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }},
		{x509.ECDSAWithSHA384, func(b []byte) []byte { s := sha512.Sum384(b); return s[:] }},
		{x509.ECDSAWithSHA512, func(b []byte) []byte { s := sha512.Sum512(b); return s[:] }},
	} {
		t.Run(tc.alg.String(), func(t *testing.T) {
			cs, _ := handshake(t, tls.VersionTLS13, newCert(t, tc.alg))
			cb, err := ChannelBindingFromTLS(&cs, BindingTLSServerEndPoint)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cb.Data, tc.hash(cs.PeerCertificates[0].Raw)) {
				t.Fatalf("hash %x", cb.Data)
			}
			other, err := scram.NewTLSServerEndpointBinding(&cs)
			if err != nil || !bytes.Equal(other.Data, cb.Data) {
				t.Fatalf("xdg-go/scram computes %x, %v", other.Data, err)
			}
		})
	}
	// SHA-1 signatures hash with SHA-256; tested on the certificate alone,
	// since crypto/x509 no longer creates them.
	cert := &x509.Certificate{Raw: []byte("certificate"), SignatureAlgorithm: x509.SHA1WithRSA}
	got, err := serverEndPoint(cert)
	if sum := sha256.Sum256(cert.Raw); err != nil || !bytes.Equal(got, sum[:]) {
		t.Fatalf("SHA-1 certificate: %x, %v", got, err)
	}
	// Ed25519 has no single hash: no binding is defined.
	cs, _ := handshake(t, tls.VersionTLS13, newCert(t, x509.PureEd25519))
	if _, err := ChannelBindingFromTLS(&cs, BindingTLSServerEndPoint); !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("Ed25519: %v, want ErrNoChannelBinding", err)
	}
}

func TestChannelBindingRefusals(t *testing.T) {
	if _, err := ChannelBindingFromTLS(nil, ""); !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("no TLS: %v", err)
	}
	if _, err := ChannelBindingFromTLS(&tls.ConnectionState{Version: tls.VersionTLS13}, ""); !errors.Is(err, ErrNoChannelBinding) {
		t.Fatalf("handshake not complete: %v", err)
	}
	cs, _ := handshake(t, tls.VersionTLS13, newCert(t, x509.ECDSAWithSHA256))
	if _, err := ChannelBindingFromTLS(&cs, "tls-foo"); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown type: %v", err)
	}
}

// xdgServer is an independent SCRAM server (xdg-go/scram) holding the
// credentials of user/pass. cb non-nil means it supports channel binding,
// that is, it advertised the -PLUS variant.
func xdgServer(t *testing.T, h SCRAMHash, user, pass string, cb *ChannelBinding) *scram.ServerConversation {
	t.Helper()
	gen := scram.SHA256
	if h == SHA1 {
		gen = scram.SHA1
	}
	client, err := gen.NewClient(user, pass, "")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := client.GetStoredCredentialsWithError(scram.KeyFactors{Salt: "NaCl-and-more", Iters: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := gen.NewServer(func(string) (scram.StoredCredentials, error) { return creds, nil })
	if err != nil {
		t.Fatal(err)
	}
	if cb == nil {
		return srv.NewConversation()
	}
	return srv.NewConversationWithChannelBinding(scram.ChannelBinding{Type: scram.ChannelBindingType(cb.Type), Data: cb.Data})
}

// converse runs a whole exchange between m and the server as the smtp
// client would: the server's first message answers the initial response,
// and the server-final message comes as a challenge.
func converse(t *testing.T, m Mechanism, srv *scram.ServerConversation) (mech string, clientErr error) {
	t.Helper()
	mech, ir, err := m.Start()
	if err != nil {
		t.Fatal(err)
	}
	msg := string(ir)
	for i := 0; i < 3 && !srv.Done(); i++ {
		challenge, serr := srv.Step(msg)
		if challenge == "" && serr != nil {
			return mech, nil
		}
		resp, err := m.Next([]byte(challenge))
		if err != nil {
			return mech, err
		}
		msg = string(resp)
	}
	return mech, nil
}

func TestSCRAMInteroperatesWithXDG(t *testing.T) {
	tls13c, tls13s := handshake(t, tls.VersionTLS13, newCert(t, x509.ECDSAWithSHA256))
	tls12c, tls12s := handshake(t, tls.VersionTLS12, newCert(t, x509.ECDSAWithSHA384))
	exporterS, _ := tls13s.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
	sepS, _ := scram.NewTLSServerEndpointBinding(&tls12c)
	for _, tc := range []struct {
		name     string
		offered  []string
		cs       *tls.ConnectionState
		cfg      Config
		serverCB *ChannelBinding // what the server binds to; nil: no -PLUS support
		hash     SCRAMHash
		wantMech string
		ok       bool
		why      string // in the client's error when the login fails with the right password
	}{
		{"SHA-256 without TLS", []string{"SCRAM-SHA-256"}, nil, Config{}, nil, SHA256, "SCRAM-SHA-256", true, ""},
		{"SHA-1 without TLS", []string{"SCRAM-SHA-1"}, nil, Config{}, nil, SHA1, "SCRAM-SHA-1", true, ""},
		{"SHA-256-PLUS tls-exporter", []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, &tls13c, Config{},
			&ChannelBinding{BindingTLSExporter, exporterS}, SHA256, "SCRAM-SHA-256-PLUS", true, ""},
		{"SHA-1-PLUS tls-unique", []string{"SCRAM-SHA-1-PLUS"}, &tls12c, Config{},
			&ChannelBinding{BindingTLSUnique, tls12s.TLSUnique}, SHA1, "SCRAM-SHA-1-PLUS", true, ""},
		{"SHA-256-PLUS tls-server-end-point", []string{"SCRAM-SHA-256-PLUS"}, &tls12c, Config{ChannelBinding: BindingTLSServerEndPoint},
			&ChannelBinding{BindingTLSServerEndPoint, sepS.Data}, SHA256, "SCRAM-SHA-256-PLUS", true, ""},
		{"binding of another connection", []string{"SCRAM-SHA-256-PLUS"}, &tls13c, Config{},
			&ChannelBinding{BindingTLSExporter, bytes.Repeat([]byte{7}, 32)}, SHA256, "SCRAM-SHA-256-PLUS", false, "channel-bindings-dont-match"},
		// RFC 5802 §6: the client could bind and saw no -PLUS name, so it
		// sends "y"; a server without channel binding accepts that...
		{"y to a server without binding", []string{"SCRAM-SHA-256"}, &tls13c, Config{}, nil, SHA256, "SCRAM-SHA-256", true, ""},
		// ...and a server that supports it knows its -PLUS names were
		// stripped on the way, and refuses.
		{"y to a server whose -PLUS was stripped", []string{"SCRAM-SHA-256"}, &tls13c, Config{},
			&ChannelBinding{BindingTLSExporter, exporterS}, SHA256, "SCRAM-SHA-256", false, "someone may have altered it"},
		// The account pins the plain variant while the server offers -PLUS:
		// the flag is "n", which the server accepts.
		{"n when -PLUS is offered but not used", []string{"SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, &tls13c, Config{Mechanisms: []string{"SCRAM-SHA-256"}},
			&ChannelBinding{BindingTLSExporter, exporterS}, SHA256, "SCRAM-SHA-256", true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pass := range []string{"pencil", "wrong"} {
				cfg := tc.cfg
				cfg.User, cfg.Password = "user", fixed(pass, nil)
				m, err := Choose(tc.offered, tc.cs, cfg)
				if err != nil {
					t.Fatal(err)
				}
				srv := xdgServer(t, tc.hash, "user", "pencil", tc.serverCB)
				mech, cerr := converse(t, m, srv)
				if mech != tc.wantMech {
					t.Fatalf("chose %s, want %s", mech, tc.wantMech)
				}
				good := tc.ok && pass == "pencil"
				if srv.Valid() != good {
					t.Fatalf("password %q: server says valid=%v, want %v", pass, srv.Valid(), good)
				}
				verr := m.(Verifier).Verify()
				if good && (cerr != nil || verr != nil) {
					t.Fatalf("client: %v, Verify: %v", cerr, verr)
				}
				if !good && (verr == nil || !errors.Is(verr, ErrAuthFailed)) {
					t.Fatalf("Verify = %v after a failed exchange, want ErrAuthFailed", verr)
				}
				if pass == "pencil" && tc.why != "" && (cerr == nil || !strings.Contains(cerr.Error(), tc.why)) {
					t.Fatalf("client error %v, want one saying %q", cerr, tc.why)
				}
			}
		})
	}
}
