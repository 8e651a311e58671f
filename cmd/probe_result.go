package cmd

import "time"

// probeResult is the report on one server and port, for the human report
// and for --json. Fields are filled as far as the session got.
type probeResult struct {
	Server     string          `json:"server"` // host:port
	Host       string          `json:"host"`
	Port       int             `json:"port"`
	TLSMode    string          `json:"tls_mode"`
	OK         bool            `json:"ok"`
	Connection probeConnection `json:"connection"`
	Greeting   *probeGreeting  `json:"greeting,omitempty"`
	EHLO       probeEHLOs      `json:"ehlo"`
	TLS        *probeTLS       `json:"tls,omitempty"`
	Auth       *probeAuth      `json:"auth,omitempty"`
	Rcpt       *probeRcpt      `json:"rcpt,omitempty"`
	// TimingsMS holds how long each step took, in milliseconds with
	// microsecond precision: resolve, connect, tls (implicit), greeting,
	// ehlo, starttls (with the handshake and the second EHLO), auth, mail,
	// rcpt, rset, quit.
	TimingsMS map[string]float64 `json:"timings_ms"`
	Error     *errorOutcome      `json:"error,omitempty"`

	steps []probeStep // the timings in order, for the human report
}

type probeStep struct {
	Name string
	Took time.Duration
}

type probeConnection struct {
	// Addresses are those the host name resolved to, in the order tried.
	Addresses []string `json:"addresses"`
	// Attempts are the connections tried, one per address until one
	// answered.
	Attempts []probeAttempt `json:"attempts"`
	// Remote is the address that answered, or "".
	Remote string `json:"remote,omitempty"`
}

type probeAttempt struct {
	Address string  `json:"address"`
	OK      bool    `json:"ok"`
	TookMS  float64 `json:"took_ms"`
	Error   string  `json:"error,omitempty"`
}

type probeGreeting struct {
	Code int `json:"code"`
	// ServerName is the first word of the greeting (RFC 5321 §4.3.1: the
	// server's domain).
	ServerName string   `json:"server_name"`
	Lines      []string `json:"lines"`
}

// probeEHLOs are the EHLO replies: before TLS (absent with implicit TLS)
// and after it (absent without TLS).
type probeEHLOs struct {
	BeforeTLS *probeEHLO `json:"before_tls,omitempty"`
	AfterTLS  *probeEHLO `json:"after_tls,omitempty"`
}

type probeEHLO struct {
	// Domain is the first word of the reply, the server's name for itself.
	Domain     string           `json:"domain"`
	Extensions []probeExtension `json:"extensions"`
	// Invalid are lines that are not extensions; the client ignores them.
	Invalid []string `json:"invalid,omitempty"`
}

type probeExtension struct {
	Keyword     string   `json:"keyword"`
	Params      []string `json:"params,omitempty"`
	Description string   `json:"description"`
}

type probeTLS struct {
	Mode string `json:"mode"`
	// StartTLSOffered says whether EHLO advertised STARTTLS; absent with
	// implicit TLS.
	StartTLSOffered *bool  `json:"starttls_offered,omitempty"`
	Established     bool   `json:"established"`
	Version         string `json:"version,omitempty"`
	Cipher          string `json:"cipher,omitempty"`
	ALPN            string `json:"alpn"`
	ServerName      string `json:"server_name,omitempty"`
	Resumed         bool   `json:"resumed"`
	Verified        bool   `json:"verified"`
	// Error is why verification (or the handshake) failed; ErrorKind names
	// a verification failure: unknown-authority, expired, not-yet-valid,
	// wrong-name, pin-mismatch, no-certificate or invalid.
	Error     string      `json:"error,omitempty"`
	ErrorKind string      `json:"error_kind,omitempty"`
	Chain     []probeCert `json:"chain"`
}

type probeCert struct {
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	DNSNames    []string  `json:"dns_names"`
	IPAddresses []string  `json:"ip_addresses"`
	Emails      []string  `json:"emails,omitempty"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	// DaysLeft is negative for an expired certificate.
	DaysLeft int  `json:"days_left"`
	IsCA     bool `json:"is_ca"`
	// SHA256 and KeySHA256 are the pins of the certificate and of its
	// public key, in the form tls_pin takes.
	SHA256             string `json:"sha256"`
	KeySHA256          string `json:"key_sha256"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	PublicKeyAlgorithm string `json:"public_key_algorithm"`
}

// probeAuth lists the SASL mechanisms offered before and after TLS (a
// server should offer cleartext ones only after), and the login when
// --auth asked for one.
type probeAuth struct {
	BeforeTLS *[]string   `json:"before_tls,omitempty"`
	AfterTLS  *[]string   `json:"after_tls,omitempty"`
	Login     *probeLogin `json:"login,omitempty"`
}

type probeLogin struct {
	Mechanism string `json:"mechanism,omitempty"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// probeRcpt is the outcome of --rcpt: MAIL, one RCPT per address, RSET.
type probeRcpt struct {
	From       string        `json:"from"` // "" for the null sender <>
	Mail       rcptOutcome   `json:"mail"`
	Recipients []rcptOutcome `json:"recipients"`
	Reset      bool          `json:"reset"`
}

// probeSurvey is the report of HOST without a port: one result per port.
type probeSurvey struct {
	Host    string         `json:"host"`
	OK      bool           `json:"ok"`
	Working []int          `json:"working"`
	Ports   []*probeResult `json:"ports"`
}
