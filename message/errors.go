package message

import "errors"

// Sentinel errors, wrapped with context; test for them with [errors.Is].
var (
	// ErrHeaderTooLarge means the header section is over [MaxHeaderBytes]
	// or [MaxHeaderFields].
	ErrHeaderTooLarge = errors.New("message header too large")
	// ErrInvalidField means a header field given by the caller was refused:
	// a name outside RFC 5322 §3.6.8, a value with CR, LF or another control
	// character (header injection), invalid UTF-8, or a field that would
	// break the message structure or appear twice where RFC 5322 §3.6
	// allows it once.
	ErrInvalidField = errors.New("invalid header field")
	// ErrBadAddress means an address cannot be parsed, even tolerantly.
	ErrBadAddress = errors.New("invalid address")
	// ErrUnqualified means a bare local name (such as cron's "root") has no
	// alias and no default domain to qualify it with.
	ErrUnqualified = errors.New("unqualified address and no default domain")
	// ErrBadAliases means an aliases file is malformed, or an alias expands
	// to something outbox cannot send to (a pipe, a file, an :include:).
	ErrBadAliases = errors.New("invalid aliases")
	// ErrBadAttachment means an attachment cannot be used: it cannot be
	// opened, is a directory, or has an invalid content type.
	ErrBadAttachment = errors.New("invalid attachment")
)
