// Package tlstest makes throwaway certificate authorities and certificates
// for tests: a CA, leaves signed by it (valid, expired, not yet valid, for
// the wrong name) and self-signed leaves. Keys are ECDSA P-256 and live only
// in memory. Nothing here is fit for production use.
//
// Functions panic on failure, which cannot happen with a working
// crypto/rand, so that tests stay short.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// CA is a certificate authority that signs test leaves.
type CA struct {
	// Cert is the CA certificate, self-signed.
	Cert *x509.Certificate
	// Key signs the leaves.
	Key crypto.Signer
}

// NewCA returns a fresh CA valid from an hour ago for ten years.
func NewCA() *CA {
	key := newKey()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "outbox test CA", Organization: []string{"outbox tests"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return &CA{Cert: cert, Key: key}
}

// PEM returns the CA certificate in PEM form, as a --tls-ca file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// Leaf returns a certificate signed by the CA for the given names, valid
// from notBefore to notAfter. A name that parses as an IP address becomes an
// IP SAN, anything else a DNS SAN; the first name is also the common name.
// The certificate is good for both server and client authentication.
func (ca *CA) Leaf(names []string, notBefore, notAfter time.Time) tls.Certificate {
	return makeLeaf(names, notBefore, notAfter, ca.Cert, ca.Key)
}

// ValidLeaf is Leaf valid from an hour ago for a day.
func (ca *CA) ValidLeaf(names ...string) tls.Certificate {
	now := time.Now()
	return ca.Leaf(names, now.Add(-time.Hour), now.Add(24*time.Hour))
}

// SelfSigned returns a certificate for names that signs itself, valid from
// notBefore to notAfter.
func SelfSigned(names []string, notBefore, notAfter time.Time) tls.Certificate {
	return makeLeaf(names, notBefore, notAfter, nil, nil)
}

// CertPEM returns the leaf certificate of c (and any chain after it) in
// PEM form.
func CertPEM(c tls.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM returns the private key of c in PKCS #8 PEM form.
func KeyPEM(c tls.Certificate) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func makeLeaf(names []string, notBefore, notAfter time.Time, parent *x509.Certificate, parentKey crypto.Signer) tls.Certificate {
	key := newKey()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func newKey() *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return key
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic(err)
	}
	return n
}
