package smtp

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Sentinel errors for conditions the client itself detects. They are wrapped
// with context; test for them with [errors.Is].
var (
	// ErrProtocol marks a reply that breaks RFC 5321: malformed lines, mixed
	// codes in a multi-line reply, a code not allowed for the command, or
	// bytes the server sent before it was asked (RFC 5321 §4.2, §4.3.2).
	ErrProtocol = errors.New("protocol violation by the server")
	// ErrReplyTooLong marks a reply over the configured line, line-count or
	// byte bounds.
	ErrReplyTooLong = errors.New("server reply too long")
	// ErrStartTLSUnavailable means TLS was required but the server did not
	// advertise STARTTLS.
	ErrStartTLSUnavailable = errors.New("server does not offer STARTTLS")
	// ErrTLSInjection means the server sent bytes after its 220 reply to
	// STARTTLS and before the TLS handshake: a response-injection attempt or
	// a broken server (RFC 3207 §5, CVE-2011-0411 class). The upgrade is refused.
	ErrTLSInjection = errors.New("server sent data after the STARTTLS reply; refusing the upgrade")
	// ErrAuthUnavailable means authentication was required but the server
	// offers no mechanism the client may use.
	ErrAuthUnavailable = errors.New("server offers no usable AUTH mechanism")
	// ErrInsecureAuth means a mechanism that sends the password in clear was
	// to run on a connection without TLS and the caller did not allow it.
	ErrInsecureAuth = errors.New("refusing to authenticate without TLS")
	// ErrExtensionMissing means the message needs an SMTP extension that the
	// server does not advertise (8BITMIME, SMTPUTF8, BINARYMIME, DSN,
	// REQUIRETLS). The transaction is not started.
	ErrExtensionMissing = errors.New("server lacks an extension the message needs")
	// ErrMessageTooLarge means the message is larger than the SIZE the
	// server advertised (RFC 1870 §4); nothing was uploaded.
	ErrMessageTooLarge = errors.New("message larger than the server accepts")
	// ErrBadInput marks caller input that cannot be sent safely: CR, LF or
	// NUL in a command argument, an invalid address or parameter.
	ErrBadInput = errors.New("invalid input")
	// ErrBadMessage marks message content that cannot be sent as given: a
	// line over 998 octets, NUL without BINARYMIME, 8-bit data without
	// 8BITMIME (RFC 5321 §4.5.3.1.6, RFC 6152, RFC 3030).
	ErrBadMessage = errors.New("message cannot be sent as it is")
	// ErrNoRecipients means every recipient was refused, or none was given.
	ErrNoRecipients = errors.New("no recipient accepted")
	// ErrPartialAbort means some recipients were refused and the caller's
	// policy was to abort the whole transaction; RSET was sent.
	ErrPartialAbort = errors.New("some recipients refused; transaction aborted")
	// ErrOutcomeUnknown means the connection failed after the end of the
	// message data was sent but before the server's reply arrived: the
	// message may or may not have been accepted (RFC 5321 §4.1.1.4, §6.1).
	ErrOutcomeUnknown = errors.New("connection lost after the message was sent; outcome unknown")
	// ErrMessageRead marks a failure to read the message the caller gave;
	// the transaction was abandoned without ending the data, so nothing was
	// delivered.
	ErrMessageRead = errors.New("reading the message failed")
	// ErrTimeout marks a stage deadline that expired.
	ErrTimeout = errors.New("timed out")
	// ErrClosed is returned by calls on a client after Quit or Close.
	ErrClosed = errors.New("client is closed")
)

// Error is a reply from the server that refused a command: a 4xx (temporary)
// or 5xx (permanent) reply, or 554 in place of a greeting.
type Error struct {
	// Command is the command that was refused, with its verb and argument as
	// sent ("RCPT TO:<bob@example.org>"), or "greeting" / "DATA end" for replies
	// that answer no command line. AUTH arguments are never included.
	Command string
	// Code is the three-digit reply code.
	Code int
	// Enhanced is the RFC 3463 status code ("5.1.1") when the server
	// advertised ENHANCEDSTATUSCODES and the reply carried one.
	Enhanced string
	// Lines holds the text of each reply line, without code and enhanced code.
	Lines []string
}

// Temporary reports whether the refusal is transient (4xx, RFC 5321 §4.2.1).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

// Message is the server's text joined with spaces, control bytes escaped.
func (e *Error) Message() string { return Escape(strings.Join(e.Lines, " ")) }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s rejected: %d", e.Command, e.Code)
	if e.Enhanced != "" {
		b.WriteString(" " + e.Enhanced)
	}
	if m := e.Message(); m != "" {
		b.WriteString(" " + m)
	}
	return b.String()
}

// StageError wraps an error with the session stage it happened in, so
// callers can report it and decide on it without parsing text.
type StageError struct {
	Stage Stage
	Err   error
}

func (e *StageError) Error() string { return e.Stage.String() + ": " + e.Err.Error() }
func (e *StageError) Unwrap() error { return e.Err }

// Stage names a step of an SMTP session, used in errors, timeouts and the
// per-stage timings.
type Stage int

// The stages of a session, in order.
const (
	StageConnect Stage = iota
	StageGreeting
	StageEHLO
	StageSTARTTLS
	StageAuth
	StageMail
	StageRcpt
	StageData
	StageDataEnd
	StageReset
	StageQuit
)

var stageNames = [...]string{"connect", "greeting", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "data end", "rset", "quit"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// Escape makes server or message text safe to show on a terminal: control
// bytes other than tab and invalid UTF-8 become \xNN escapes.
func Escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1, r < 0x20 && r != '\t', r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			// C1 controls, line separators and bidi overrides can disguise text.
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
