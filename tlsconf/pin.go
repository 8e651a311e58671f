package tlsconf

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// Pin is the SHA-256 digest of a certificate (its DER encoding) or of a
// public key (its DER SubjectPublicKeyInfo). A pin matches a certificate
// when either digest of that certificate equals it; pinning the key
// survives renewals that keep the key.
type Pin [sha256.Size]byte

// ParsePin accepts the forms that tools print:
//
//   - 64 hex digits, optionally separated by colons and prefixed with
//     "sha256:" (openssl x509 -fingerprint -sha256)
//   - standard or URL-safe base64, optionally prefixed with "sha256/" or
//     curl's "sha256//" (HPKP, curl --pinnedpubkey)
func ParsePin(s string) (Pin, error) {
	var p Pin
	v := strings.TrimSpace(s)
	lower := strings.ToLower(v)
	switch {
	case strings.HasPrefix(lower, "sha256//"):
		v = v[len("sha256//"):]
	case strings.HasPrefix(lower, "sha256/"):
		v = v[len("sha256/"):]
	case strings.HasPrefix(lower, "sha256:"):
		v = v[len("sha256:"):]
	}
	if h := strings.ReplaceAll(v, ":", ""); len(h) == 2*sha256.Size {
		if b, err := hex.DecodeString(h); err == nil {
			copy(p[:], b)
			return p, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == sha256.Size {
			copy(p[:], b)
			return p, nil
		}
	}
	return p, fmt.Errorf("invalid pin %q: want a SHA-256 digest as 64 hex digits (sha256:AB:CD:...) or base64 (sha256/...)", s)
}

// String formats the pin as "sha256/" and standard base64.
func (p Pin) String() string {
	return "sha256/" + base64.StdEncoding.EncodeToString(p[:])
}

// CertPin returns the pin of the whole certificate.
func CertPin(c *x509.Certificate) Pin { return sha256.Sum256(c.Raw) }

// KeyPin returns the pin of the certificate's public key.
func KeyPin(c *x509.Certificate) Pin { return sha256.Sum256(c.RawSubjectPublicKeyInfo) }

// Matches reports whether the pin is the digest of c or of its public key.
func (p Pin) Matches(c *x509.Certificate) bool {
	cp, kp := CertPin(c), KeyPin(c)
	return subtle.ConstantTimeCompare(p[:], cp[:]) == 1 || subtle.ConstantTimeCompare(p[:], kp[:]) == 1
}

// Hex formats the pin as colon-separated upper-case hex, as openssl prints
// fingerprints.
func (p Pin) Hex() string {
	var b strings.Builder
	for i, c := range p {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}
