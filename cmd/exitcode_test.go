package cmd

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/auth"
	"github.com/outbox-smtp/outbox/smtp"
	"github.com/outbox-smtp/outbox/tlsconf"
)

func stage(s smtp.Stage, err error) error { return &smtp.StageError{Stage: s, Err: err} }

func TestExitCode(t *testing.T) {
	rcptErr := func(code int, enh string) error {
		return stage(smtp.StageRcpt, &smtp.Error{Command: "RCPT TO:<b@example.org>", Code: code, Enhanced: enh})
	}
	partial := func(errs ...error) error {
		res := &smtp.Result{}
		res.Recipients = append(res.Recipients, smtp.RcptResult{Reply: smtp.Reply{Code: 250}})
		for _, e := range errs {
			res.Recipients = append(res.Recipients, smtp.RcptResult{Reply: smtp.Reply{Code: 550}, Err: e})
		}
		return &partialError{res: res}
	}
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"usage", &UsageError{Err: errors.New("x")}, ExitUsage},
		{"bad address", fmt.Errorf("recipient: %w", smtp.ErrBadInput), ExitDataErr},
		{"8-bit", stage(smtp.StageData, fmt.Errorf("%w: line 2", smtp.ErrBadMessage)), ExitDataErr},
		{"extension missing", stage(smtp.StageMail, smtp.ErrExtensionMissing), ExitDataErr},
		{"too large", stage(smtp.StageMail, smtp.ErrMessageTooLarge), ExitDataErr},
		{"input missing", &inputError{Path: "x", Err: fs.ErrNotExist}, ExitNoInput},
		{"input unreadable", &inputError{Path: "x", Err: syscall.EIO}, ExitIOErr},
		{"message read", stage(smtp.StageData, fmt.Errorf("%w: %w", smtp.ErrMessageRead, syscall.EIO)), ExitIOErr},
		{"unknown user", stage(smtp.StageRcpt, fmt.Errorf("%w: %w", smtp.ErrNoRecipients, rcptErr(550, "5.1.1"))), ExitNoUser},
		{"unknown user without enhanced", rcptErr(550, ""), ExitNoUser},
		{"policy refusal", rcptErr(554, "5.7.1"), ExitUnavailable},
		{"temporary", rcptErr(450, "4.2.0"), ExitTempFail},
		{"dns not found", &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, ExitNoHost},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "x", IsTemporary: true}, ExitTempFail},
		{"refused", stage(smtp.StageConnect, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}), ExitTempFail},
		{"timeout", stage(smtp.StageGreeting, fmt.Errorf("%w waiting", smtp.ErrTimeout)), ExitTempFail},
		{"outcome unknown", stage(smtp.StageDataEnd, fmt.Errorf("%w: eof", smtp.ErrOutcomeUnknown)), ExitTempFail},
		{"protocol", stage(smtp.StageEHLO, fmt.Errorf("%w: bad", smtp.ErrProtocol)), ExitProtocol},
		{"reply too long", stage(smtp.StageEHLO, smtp.ErrReplyTooLong), ExitProtocol},
		{"injection", stage(smtp.StageSTARTTLS, smtp.ErrTLSInjection), ExitProtocol},
		{"bad challenge", stage(smtp.StageAuth, &smtp.AuthError{Mechanism: "SCRAM-SHA-256", Err: auth.ErrBadChallenge}), ExitProtocol},
		{"auth refused", stage(smtp.StageAuth, &smtp.Error{Command: "AUTH PLAIN", Code: 535, Enhanced: "5.7.8"}), ExitNoPerm},
		{"auth temporary", stage(smtp.StageAuth, &smtp.Error{Command: "AUTH PLAIN", Code: 454, Enhanced: "4.7.0"}), ExitTempFail},
		{"server not verified", stage(smtp.StageAuth, &smtp.AuthError{Mechanism: "SCRAM-SHA-1", Err: auth.ErrServerNotVerified}), ExitNoPerm},
		{"starttls missing", stage(smtp.StageSTARTTLS, smtp.ErrStartTLSUnavailable), ExitUnavailable},
		{"starttls refused", stage(smtp.StageSTARTTLS, &smtp.Error{Command: "STARTTLS", Code: 554}), ExitUnavailable},
		{"auth unavailable", stage(smtp.StageAuth, smtp.ErrAuthUnavailable), ExitUnavailable},
		{"no mechanism", stage(smtp.StageAuth, fmt.Errorf("%w: plain in clear", auth.ErrNoMechanism)), ExitUnavailable},
		{"verify error", stage(smtp.StageSTARTTLS, &tlsconf.VerifyError{Kind: tlsconf.KindExpired}), ExitUnavailable},
		{"x509 error", stage(smtp.StageSTARTTLS, &tls509{}), ExitUnavailable},
		{"config", &account.Error{Kind: account.ErrUnknownKey}, ExitConfig},
		{"tls file", &tlsconf.FileError{Setting: "tls_ca", Err: fs.ErrNotExist}, ExitConfig},
		{"auth config", fmt.Errorf("%w: x", auth.ErrConfig), ExitConfig},
		{"partial temporary", partial(rcptErr(450, "4.2.0")), ExitTempFail},
		{"partial unknown", partial(rcptErr(450, "4.2.0"), rcptErr(550, "5.1.1")), ExitNoUser},
		{"partial permanent", partial(rcptErr(550, "5.1.1"), rcptErr(554, "5.7.1")), ExitUnavailable},
		{"internal", errors.New("unexpected"), ExitSoftware},
	}
	for _, tc := range cases {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

// tls509 stands for crypto/tls's verification error, which wraps x509's.
type tls509 struct{}

func (*tls509) Error() string { return "x509: certificate signed by unknown authority" }
func (*tls509) Unwrap() error { return x509.UnknownAuthorityError{} }
