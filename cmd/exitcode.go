package cmd

import "errors"

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
// that does.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var usage *UsageError
	var sinkTimeout *sinkTimeoutError
	switch {
	case errors.As(err, &usage):
		return ExitUsage
	case errors.As(err, &sinkTimeout):
		return ExitTempFail
	case isConfigError(err):
		return ExitConfig
	}
	return ExitSoftware
}
