// Package smtp is an SMTP (RFC 5321) and LMTP (RFC 2033) client.
//
// A [Client] drives one connection given as a [net.Conn]: greeting, EHLO
// (or LHLO), STARTTLS (RFC 3207), AUTH (RFC 4954) through any [SASLMechanism],
// and mail transactions with PIPELINING (RFC 2920), CHUNKING (RFC 3030), SIZE
// (RFC 1870), DSN (RFC 3461), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) and
// REQUIRETLS (RFC 8689).
//
// The package knows nothing of flags, files, terminals or exit codes and never
// prints. Failures are typed: a server refusal is an [*Error]; the client's own
// conditions are sentinels such as [ErrStartTLSUnavailable] wrapped with
// context; a connection that died after the final end-of-data is
// [ErrOutcomeUnknown]. After an I/O error or a protocol violation the client
// is broken, and every later call returns that error.
package smtp
