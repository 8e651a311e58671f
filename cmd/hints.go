package cmd

import (
	"errors"
	"net"
	"syscall"

	"github.com/outbox-smtp/outbox/message"
	"github.com/outbox-smtp/outbox/smtp"
)

// protocolHint advises on the errors of a session, which carry no hint of
// their own: the smtp package knows nothing of flags.
func protocolHint(err error) string {
	var (
		smtpErr  *smtp.Error
		stageErr *smtp.StageError
		dnsErr   *net.DNSError
	)
	switch {
	case errors.Is(err, smtp.ErrOutcomeUnknown):
		return "the server may have accepted the message: check before sending it again"
	case errors.As(err, &smtpErr) && errors.As(err, &stageErr) && stageErr.Stage == smtp.StageAuth && (smtpErr.Code == 535 || smtpErr.Code == 534):
		return "check the user name (-u/--user) and password; providers with two-factor login need an app password"
	case errors.Is(err, smtp.ErrStartTLSUnavailable):
		return "the server offers no STARTTLS here: if it takes TLS on port 465 use --tls implicit; --tls none sends everything in clear"
	case errors.Is(err, smtp.ErrInsecureAuth):
		return "use TLS (--tls starttls or implicit), or allow it with --allow-insecure-auth"
	case errors.Is(err, smtp.ErrAuthUnavailable):
		return "the server may offer AUTH only after STARTTLS or on another port; --auth none sends without logging in"
	case errors.Is(err, smtp.ErrTLSInjection):
		return "something on the path tampered with the connection; do not send over it"
	case errors.Is(err, smtp.ErrMessageTooLarge):
		return "send a smaller message, or a link to the file instead of the file"
	case errors.Is(err, smtp.ErrExtensionMissing):
		// The extension may be SMTPUTF8, DSN or REQUIRETLS as well as
		// 8BITMIME: advice about 7-bit encoding alone would mislead.
		return "use a server that offers the extension, or leave out what needs it (UTF-8 addresses or raw UTF-8 headers, DSN options, REQUIRETLS)"
	case errors.Is(err, message.ErrUnqualified):
		return "a local name such as root needs a domain: give -f/--from user@domain (its domain qualifies local names), or set from and aliases in the account (see 'outbox config example')"
	case errors.Is(err, smtp.ErrBadMessage):
		return "lines must be at most 998 octets and, without 8BITMIME, 7-bit; outbox send --attach encodes files for you"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "check the host name given with -S/--server or in the account"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens there: check the host and port (-S/--server HOST:PORT)"
	case errors.Is(err, smtp.ErrTimeout):
		return "the server is slow or unreachable; try again later, or raise --timeout"
	}
	return ""
}
