package tlstest_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/tlsconf/tlstest"
)

func TestLeafVerifiesAgainstCA(t *testing.T) {
	ca := tlstest.NewCA()
	leaf := ca.ValidLeaf("mail.example.test", "127.0.0.1")
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca.PEM()) {
		t.Fatal("CA PEM does not parse")
	}
	for _, name := range []string{"mail.example.test", "127.0.0.1"} {
		if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if _, err := tls.X509KeyPair(tlstest.CertPEM(leaf), tlstest.KeyPEM(leaf)); err != nil {
		t.Errorf("PEM pair does not load: %v", err)
	}
}

func TestSelfSignedIsItsOwnIssuer(t *testing.T) {
	now := time.Now()
	c := tlstest.SelfSigned([]string{"self.example.test"}, now.Add(-time.Hour), now.Add(time.Hour))
	self := x509.NewCertPool()
	self.AddCert(c.Leaf)
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: self, DNSName: "self.example.test"}); err != nil {
		t.Fatalf("self-signed leaf does not verify against itself: %v", err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: tlstest.NewCA().Pool()}); err == nil {
		t.Fatal("self-signed leaf verified against an unrelated CA")
	}
}
