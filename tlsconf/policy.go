package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Mode says when TLS starts on an SMTP connection.
type Mode string

const (
	// ModeStartTLS upgrades a plaintext connection with STARTTLS (RFC 3207)
	// and fails if the server does not offer it. The default on any port
	// but 465.
	ModeStartTLS Mode = "starttls"
	// ModeImplicit starts TLS before the greeting (RFC 8314 §3.3), usually
	// on port 465.
	ModeImplicit Mode = "implicit"
	// ModeNone never uses TLS. Cleartext authentication still needs an
	// explicit allowance.
	ModeNone Mode = "none"
)

// Modes lists the valid modes, in the order they are documented.
var Modes = []Mode{ModeStartTLS, ModeImplicit, ModeNone}

// ParseMode parses "starttls", "implicit" or "none", ignoring case.
func ParseMode(s string) (Mode, error) {
	m := Mode(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Modes {
		if m == v {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown TLS mode %q (want starttls, implicit or none)", s)
}

// DefaultMinVersion is the lowest TLS version accepted unless the policy
// says otherwise.
const DefaultMinVersion = tls.VersionTLS12

// ParseVersion parses a TLS version as written in configuration: "1.0",
// "1.1", "1.2" or "1.3", with an optional "TLS" or "tls" prefix.
func ParseVersion(s string) (uint16, error) {
	v := strings.TrimSpace(s)
	v = strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(v), "tls"), "v")
	v = strings.TrimSpace(v)
	switch v {
	case "1.0", "1":
		return tls.VersionTLS10, nil
	case "1.1":
		return tls.VersionTLS11, nil
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("unknown TLS version %q (want 1.2 or 1.3)", s)
}

// Policy is what the user asked of TLS for one server. The zero value, with
// ServerName set, verifies against the system roots and accepts TLS 1.2 and
// later.
type Policy struct {
	// Mode says when TLS starts. Empty means [ModeStartTLS]; [Policy.Config]
	// does not look at it, the SMTP layer does.
	Mode Mode
	// ServerName is the name the certificate must be valid for and the SNI
	// sent; normally the host connected to, or an override when connecting
	// by address. Required.
	ServerName string
	// CAFile is a PEM file of trusted certificates that replaces the system
	// roots. A self-signed server certificate can be given here.
	CAFile string
	// RootCAs, when CAFile is empty, replaces the system roots with this
	// pool. For callers that hold certificates in memory.
	RootCAs *x509.CertPool
	// Pins, when not empty, require that a certificate of the verified chain
	// matches one of them, in addition to normal verification.
	Pins []Pin
	// ClientCertFile and ClientKeyFile hold a PEM certificate and key
	// presented to servers that ask for one (for SASL EXTERNAL). The key
	// may be in the certificate file, then ClientKeyFile may be empty.
	ClientCertFile string
	ClientKeyFile  string
	// MinVersion is the lowest TLS version accepted; 0 means
	// [DefaultMinVersion].
	MinVersion uint16
	// Time, when set, replaces time.Now for certificate validity checks.
	Time func() time.Time
}

// ErrNoServerName means the policy has no name to verify the certificate
// against; verification would be meaningless.
var ErrNoServerName = errors.New("tls: no server name to verify the certificate against")

// FileError is a CA file or client certificate that cannot be used. It is a
// configuration error.
type FileError struct {
	// Setting names what the file was given as: "tls_ca",
	// "tls_client_cert" or "tls_client_key".
	Setting string
	Path    string
	Err     error
}

func (e *FileError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Setting, e.Path, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Hint says how to fix the file.
func (e *FileError) Hint() string {
	if errors.Is(e.Err, os.ErrNotExist) {
		return "check the path given as " + e.Setting
	}
	switch e.Setting {
	case "tls_ca":
		return "tls_ca (--tls-ca) must be a PEM file of CA certificates"
	default:
		return "tls_client_cert and tls_client_key (--tls-client-cert, --tls-client-key) must be a PEM certificate and its private key"
	}
}

// Config returns a client configuration for the policy, loading the CA file
// and client certificate. Certificate verification, name check and pins run
// in VerifyConnection, so that failures are [*VerifyError] values and apply
// to resumed sessions too; InsecureSkipVerify is set only to hand
// verification over to that function.
func (p *Policy) Config() (*tls.Config, error) {
	cfg, err := p.baseConfig()
	if err != nil {
		return nil, err
	}
	roots := cfg.RootCAs
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := p.verify(cs, roots)
		return err
	}
	return cfg, nil
}

// ProbeConfig is like [Policy.Config] but lets the handshake finish
// whatever the server presents, so that [Inspect] can report why
// verification fails. Never send credentials or mail over a connection made
// with it.
func (p *Policy) ProbeConfig() (*tls.Config, error) {
	return p.baseConfig()
}

func (p *Policy) baseConfig() (*tls.Config, error) {
	if p.ServerName == "" {
		return nil, ErrNoServerName
	}
	roots, err := p.roots()
	if err != nil {
		return nil, err
	}
	minVersion := p.MinVersion
	if minVersion == 0 {
		minVersion = DefaultMinVersion
	}
	cfg := &tls.Config{
		ServerName: p.ServerName,
		MinVersion: minVersion,
		RootCAs:    roots,
		Time:       p.Time,
		// Verification is done by p.verify in VerifyConnection (see Config).
		InsecureSkipVerify: true,
	}
	if p.ClientCertFile != "" || p.ClientKeyFile != "" {
		cert, err := p.clientCert()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// roots returns the pool to verify against; nil means the system roots.
func (p *Policy) roots() (*x509.CertPool, error) {
	if p.CAFile == "" {
		return p.RootCAs, nil
	}
	data, err := os.ReadFile(p.CAFile)
	if err != nil {
		return nil, &FileError{Setting: "tls_ca", Path: p.CAFile, Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, &FileError{Setting: "tls_ca", Path: p.CAFile, Err: errors.New("no PEM certificate found")}
	}
	return pool, nil
}

func (p *Policy) clientCert() (tls.Certificate, error) {
	if p.ClientCertFile == "" {
		return tls.Certificate{}, &FileError{Setting: "tls_client_cert", Path: p.ClientKeyFile, Err: errors.New("a client key needs a client certificate")}
	}
	certPEM, err := os.ReadFile(p.ClientCertFile)
	if err != nil {
		return tls.Certificate{}, &FileError{Setting: "tls_client_cert", Path: p.ClientCertFile, Err: err}
	}
	keyPEM, keySetting, keyPath := certPEM, "tls_client_cert", p.ClientCertFile
	if p.ClientKeyFile != "" {
		keySetting, keyPath = "tls_client_key", p.ClientKeyFile
		if keyPEM, err = os.ReadFile(p.ClientKeyFile); err != nil {
			return tls.Certificate{}, &FileError{Setting: keySetting, Path: keyPath, Err: err}
		}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, &FileError{Setting: keySetting, Path: keyPath, Err: err}
	}
	return cert, nil
}
