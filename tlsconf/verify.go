package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// VerifyKind says why a server certificate was refused.
type VerifyKind int

const (
	// KindInvalid is any other verification failure: a malformed chain, a
	// certificate not meant for servers, a name-constraint violation.
	KindInvalid VerifyKind = iota
	// KindUnknownAuthority means the chain does not lead to a trusted root.
	KindUnknownAuthority
	// KindExpired means a certificate of the chain is past its NotAfter.
	KindExpired
	// KindNotYetValid means a certificate of the chain is before its
	// NotBefore (or this machine's clock is wrong).
	KindNotYetValid
	// KindWrongName means the certificate is not valid for the server name.
	KindWrongName
	// KindPinMismatch means the chain verified but no certificate in it
	// matches a configured pin.
	KindPinMismatch
	// KindNoCertificate means the server presented no certificate.
	KindNoCertificate
)

var kindNames = map[VerifyKind]string{
	KindInvalid:          "invalid certificate",
	KindUnknownAuthority: "certificate signed by an unknown authority",
	KindExpired:          "certificate expired",
	KindNotYetValid:      "certificate not yet valid",
	KindWrongName:        "certificate is for another name",
	KindPinMismatch:      "certificate does not match the pin",
	KindNoCertificate:    "no certificate presented",
}

func (k VerifyKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("VerifyKind(%d)", int(k))
}

// VerifyError is a server certificate that failed the policy. Test for it
// with [errors.As] and look at Kind.
type VerifyError struct {
	Kind VerifyKind
	// ServerName is the name that was verified.
	ServerName string
	// Cert is the certificate at fault: the leaf, or for an expired or not
	// yet valid chain the certificate whose dates are wrong. Nil for
	// [KindNoCertificate].
	Cert *x509.Certificate
	// Now is the time the validity dates were checked against.
	Now time.Time
	// Err is the underlying crypto/x509 error, if any.
	Err error
}

func (e *VerifyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "TLS verification of %s failed: %s", e.ServerName, e.Kind)
	switch e.Kind {
	case KindExpired:
		fmt.Fprintf(&b, " on %s", e.Cert.NotAfter.UTC().Format(time.DateTime+" MST"))
	case KindNotYetValid:
		fmt.Fprintf(&b, " before %s", e.Cert.NotBefore.UTC().Format(time.DateTime+" MST"))
	case KindWrongName:
		if names := certNames(e.Cert); len(names) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(names, ", "))
		} else {
			b.WriteString(" (it names none)")
		}
	case KindInvalid:
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	}
	return b.String()
}

func (e *VerifyError) Unwrap() error { return e.Err }

// Hint says what the user can do about the failure.
func (e *VerifyError) Hint() string {
	switch e.Kind {
	case KindUnknownAuthority:
		return "if you trust this server, pass its CA certificate (or its self-signed certificate) with --tls-ca FILE or tls_ca"
	case KindExpired:
		return "the server's certificate must be renewed by its administrator; also check this machine's clock"
	case KindNotYetValid:
		return "check this machine's clock and time zone"
	case KindWrongName:
		return "connect with a name the certificate lists, or set tls_server_name to the name it was issued for"
	case KindPinMismatch:
		return "the server presented a different certificate or key than tls_pin (--tls-pin) expects; if it was renewed, run 'outbox probe' to see its fingerprints"
	case KindNoCertificate:
		return "the server sent no certificate; it cannot be verified"
	}
	return ""
}

// Verify checks a finished handshake against the policy: the chain up to
// the roots, the validity dates, the server name and the pins. It is what
// [Policy.Config] runs in VerifyConnection.
func (p *Policy) Verify(cs tls.ConnectionState) error {
	roots, err := p.roots()
	if err != nil {
		return err
	}
	_, err = p.verify(cs, roots)
	return err
}

func (p *Policy) now() time.Time {
	if p.Time != nil {
		return p.Time()
	}
	return time.Now()
}

// verify returns the verified chains, or a *VerifyError.
func (p *Policy) verify(cs tls.ConnectionState, roots *x509.CertPool) ([][]*x509.Certificate, error) {
	now := p.now()
	fail := func(kind VerifyKind, cert *x509.Certificate, err error) error {
		return &VerifyError{Kind: kind, ServerName: p.ServerName, Cert: cert, Now: now, Err: err}
	}
	if p.ServerName == "" {
		return nil, ErrNoServerName
	}
	if len(cs.PeerCertificates) == 0 {
		return nil, fail(KindNoCertificate, nil, nil)
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       p.ServerName,
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, classify(err, leaf, now, fail)
	}
	if len(p.Pins) > 0 && !pinned(p.Pins, chains) {
		return nil, fail(KindPinMismatch, leaf, nil)
	}
	return chains, nil
}

func classify(err error, leaf *x509.Certificate, now time.Time, fail func(VerifyKind, *x509.Certificate, error) error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return fail(KindUnknownAuthority, leaf, err)
	case errors.As(err, &hostname):
		return fail(KindWrongName, leaf, err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c := invalid.Cert
		if c == nil {
			c = leaf
		}
		if now.Before(c.NotBefore) {
			return fail(KindNotYetValid, c, err)
		}
		return fail(KindExpired, c, err)
	}
	return fail(KindInvalid, leaf, err)
}

// pinned reports whether any certificate of any verified chain matches a
// pin. Only verified chains count: a certificate the server merely sent
// along proves nothing.
func pinned(pins []Pin, chains [][]*x509.Certificate) bool {
	for _, chain := range chains {
		for _, c := range chain {
			for _, pin := range pins {
				if pin.Matches(c) {
					return true
				}
			}
		}
	}
	return false
}

func certNames(c *x509.Certificate) []string {
	if c == nil {
		return nil
	}
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	return names
}
