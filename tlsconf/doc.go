// Package tlsconf turns a TLS policy into a [*tls.Config] for SMTP
// submission: the mode (STARTTLS, implicit TLS or none), the trust anchors
// (system roots or a CA file), SHA-256 pins, a client certificate, the
// minimum version (TLS 1.2 unless raised or explicitly lowered) and the
// name to verify.
//
// Verification is always on. It runs in [tls.Config.VerifyConnection], on
// every handshake including session resumption, and fails with a
// [*VerifyError] whose [VerifyKind] says what went wrong. [Inspect] reports
// what a handshake negotiated and presented, for outbox probe.
package tlsconf
