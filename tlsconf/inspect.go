package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"time"
)

// Report is what a handshake negotiated and what the server presented, for
// outbox probe.
type Report struct {
	// Version is the negotiated protocol version, e.g. "TLS 1.3".
	Version string
	// CipherSuite is the negotiated suite's IANA name.
	CipherSuite string
	// ALPN is the negotiated application protocol, usually empty for SMTP.
	ALPN string
	// ServerName is the name the certificate was verified against.
	ServerName string
	// Resumed is true when the session was resumed.
	Resumed bool
	// Chain is the certificates as the server presented them, leaf first.
	Chain []CertInfo
	// Verified is true when the chain passed the policy, pins included.
	Verified bool
	// Err is why verification failed: a [*VerifyError], or nil.
	Err error
}

// CertInfo describes one certificate.
type CertInfo struct {
	Subject     string
	Issuer      string
	DNSNames    []string
	IPAddresses []string
	Emails      []string
	NotBefore   time.Time
	NotAfter    time.Time
	IsCA        bool
	// SHA256 is the digest of the certificate; KeySHA256 of its public key.
	// Either can be given as tls_pin.
	SHA256    Pin
	KeySHA256 Pin
	// SignatureAlgorithm and PublicKeyAlgorithm as crypto/x509 names them.
	SignatureAlgorithm string
	PublicKeyAlgorithm string
}

// Inspect reports on a finished handshake and checks it against the policy.
// Use it with a connection made from [Policy.ProbeConfig] to see the chain
// even when verification fails.
func Inspect(cs tls.ConnectionState, p *Policy) *Report {
	r := &Report{
		Version:     tls.VersionName(cs.Version),
		CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ALPN:        cs.NegotiatedProtocol,
		ServerName:  p.ServerName,
		Resumed:     cs.DidResume,
	}
	for _, c := range cs.PeerCertificates {
		r.Chain = append(r.Chain, describe(c))
	}
	r.Err = p.Verify(cs)
	r.Verified = r.Err == nil
	return r
}

func describe(c *x509.Certificate) CertInfo {
	info := CertInfo{
		Subject:            c.Subject.String(),
		Issuer:             c.Issuer.String(),
		DNSNames:           c.DNSNames,
		Emails:             c.EmailAddresses,
		NotBefore:          c.NotBefore,
		NotAfter:           c.NotAfter,
		IsCA:               c.IsCA,
		SHA256:             CertPin(c),
		KeySHA256:          KeyPin(c),
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		PublicKeyAlgorithm: c.PublicKeyAlgorithm.String(),
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	return info
}
