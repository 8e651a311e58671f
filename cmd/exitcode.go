package cmd

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"strings"
	"syscall"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/auth"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
)

// Exit codes, from sysexits.h. This table is documented in the man page and
// never renumbers.
const (
	ExitOK          = 0  // every recipient accepted
	ExitUsage       = 64 // EX_USAGE: bad command line
	ExitDataErr     = 65 // EX_DATAERR: bad message or address, or a needed extension missing
	ExitNoInput     = 66 // EX_NOINPUT: input file missing
	ExitNoUser      = 67 // EX_NOUSER: recipient unknown and none accepted
	ExitNoHost      = 68 // EX_NOHOST: host name does not resolve
	ExitUnavailable = 69 // EX_UNAVAILABLE: permanent refusal, STARTTLS/AUTH unavailable, TLS verification
	ExitSoftware    = 70 // EX_SOFTWARE: internal error
	ExitIOErr       = 74 // EX_IOERR: local I/O error
	ExitTempFail    = 75 // EX_TEMPFAIL: 4xx, connection refused, timeout, outcome unknown
	ExitProtocol    = 76 // EX_PROTOCOL: the server broke the protocol
	ExitNoPerm      = 77 // EX_NOPERM: authentication failed
	ExitConfig      = 78 // EX_CONFIG: configuration error
)

// ExitCode decides the process exit code for err. It is the only place
// that does; the order of the cases is the order of precedence.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var (
		usage       *UsageError
		sinkTimeout *sinkTimeoutError
		partial     *partialError
		refused     *refusedError
		probe       *probeRefusedError
		inputErr    *inputError
		smtpErr     *smtp.Error
		verifyErr   *tlsconf.VerifyError
		certErr     *tls.CertificateVerificationError
		dnsErr      *net.DNSError
		stageErr    *smtp.StageError
	)
	switch {
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &sinkTimeout):
		return ExitTempFail
	case errors.As(err, &partial):
		return partialExitCode(partial.res)
	case errors.As(err, &refused):
		return partialExitCode(refused.res)
	case errors.As(err, &probe):
		return partialExitCode(probe.res)
	case errors.As(err, &inputErr):
		if errors.Is(inputErr.Err, fs.ErrNotExist) {
			return ExitNoInput
		}
		return ExitIOErr
	case isConfigError(err), errors.Is(err, auth.ErrConfig):
		return ExitConfig

	// The message or an address: the user's data.
	case errors.Is(err, smtp.ErrBadInput), errors.Is(err, smtp.ErrBadMessage),
		errors.Is(err, smtp.ErrExtensionMissing), errors.Is(err, smtp.ErrMessageTooLarge):
		return ExitDataErr
	case errors.Is(err, smtp.ErrMessageRead):
		return ExitIOErr

	// "Outcome unknown" and timeouts are temporary: try again later (and
	// the queue says a duplicate is possible).
	case errors.Is(err, smtp.ErrOutcomeUnknown), errors.Is(err, smtp.ErrTimeout):
		return ExitTempFail

	// The server broke the protocol.
	case errors.Is(err, smtp.ErrProtocol), errors.Is(err, smtp.ErrReplyTooLong),
		errors.Is(err, smtp.ErrTLSInjection), errors.Is(err, auth.ErrBadChallenge):
		return ExitProtocol

	// Authentication: the server's refusal of the credentials, or a
	// server that could not prove it knows them.
	case errors.As(err, &smtpErr) && errors.As(err, &stageErr) && stageErr.Stage == smtp.StageAuth && !smtpErr.Temporary():
		return ExitNoPerm
	case errors.Is(err, auth.ErrAuthFailed), errors.Is(err, auth.ErrBadCredential):
		return ExitNoPerm

	// A server refusal: temporary, unknown user, or other permanent.
	case errors.As(err, &smtpErr):
		switch {
		case smtpErr.Temporary():
			return ExitTempFail
		case unknownUser(smtpErr):
			return ExitNoUser
		}
		return ExitUnavailable

	// TLS policy and availability of what security needs.
	case errors.As(err, &verifyErr), errors.As(err, &certErr), isX509Error(err),
		errors.Is(err, smtp.ErrStartTLSUnavailable), errors.Is(err, smtp.ErrAuthUnavailable),
		errors.Is(err, smtp.ErrInsecureAuth), errors.Is(err, auth.ErrNoMechanism):
		return ExitUnavailable

	// The network.
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return ExitNoHost
		}
		return ExitTempFail
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, syscall.EPIPE), isNetTimeout(err), isConnectionClosed(err):
		return ExitTempFail
	case errors.As(err, &stageErr):
		// Any other failure on the connection during a session.
		return ExitTempFail
	case errors.Is(err, account.ErrNoTerminal):
		return ExitConfig
	}
	return ExitSoftware
}

// unknownUser reports a refusal that says the recipient does not exist:
// 550/551/553 or an enhanced code of class X.1.x (RFC 3463 §3.2, addressing
// status).
func unknownUser(e *smtp.Error) bool {
	if strings.HasPrefix(e.Enhanced, "5.1.") {
		return true
	}
	return e.Enhanced == "" && (e.Code == 550 || e.Code == 551 || e.Code == 553) && strings.HasPrefix(e.Command, "RCPT")
}

// partialExitCode is the code of the worst refusal of a partly delivered
// message, or of one that all its recipients refused: a permanent refusal
// (69) before an unknown user (67) before a temporary one (75).
func partialExitCode(res *smtp.Result) int {
	code := ExitOK
	rank := map[int]int{ExitOK: 0, ExitTempFail: 1, ExitNoUser: 2, ExitUnavailable: 3}
	for _, r := range res.Recipients {
		if r.Err == nil {
			continue
		}
		c := ExitCode(r.Err)
		if rank[c] > rank[code] {
			code = c
		}
	}
	if code == ExitOK {
		code = ExitUnavailable
	}
	return code
}

// isX509Error reports a certificate refused by crypto/x509 itself.
func isX509Error(err error) bool {
	var (
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isConnectionClosed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

// inputError is a failure to open or read the message given on the command
// line: 66 when the file does not exist, 74 otherwise.
type inputError struct {
	Path string
	Err  error
}

func (e *inputError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *inputError) Unwrap() error { return e.Err }
