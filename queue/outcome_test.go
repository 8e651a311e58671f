package queue

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/outbox-smtp/outbox/smtp"
)

func TestTemporary(t *testing.T) {
	stage := func(s smtp.Stage, err error) error { return &smtp.StageError{Stage: s, Err: err} }
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", stage(smtp.StageConnect, &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"dns", stage(smtp.StageConnect, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "mail.example.org"}}), true},
		{"timeout", stage(smtp.StageGreeting, fmt.Errorf("%w reading", smtp.ErrTimeout)), true},
		{"closed by server", stage(smtp.StageMail, errors.New("connection closed by the server while reading")), true},
		{"421", stage(smtp.StageGreeting, &smtp.Error{Command: "greeting", Code: 421}), true},
		{"451 rcpt", stage(smtp.StageRcpt, &smtp.Error{Command: "RCPT TO:<a@b>", Code: 451}), true},
		{"outcome unknown", stage(smtp.StageDataEnd, fmt.Errorf("%w: reset", smtp.ErrOutcomeUnknown)), true},
		{"550", stage(smtp.StageRcpt, &smtp.Error{Command: "RCPT TO:<a@b>", Code: 550}), false},
		{"535 auth", stage(smtp.StageAuth, &smtp.Error{Command: "AUTH PLAIN", Code: 535}), false},
		{"auth stage i/o", stage(smtp.StageAuth, errors.New("token endpoint refused")), false},
		{"unknown CA", stage(smtp.StageSTARTTLS, fmt.Errorf("handshake: %w", x509.UnknownAuthorityError{})), false},
		{"no STARTTLS", stage(smtp.StageSTARTTLS, smtp.ErrStartTLSUnavailable), false},
		{"protocol", stage(smtp.StageMail, smtp.ErrProtocol), false},
		{"bad message", stage(smtp.StageData, smtp.ErrBadMessage), false},
		{"plain error", errors.New("no such account"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%s: %v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestJudge(t *testing.T) {
	env, err := testEnvelope("a", "b@example.org", "c@example.org", "d@example.org").SMTP()
	if err != nil {
		t.Fatal(err)
	}
	res, err := refuse(env, map[string]int{"c@example.org": 452, "d@example.org": 550})
	o := Judge(env, res, err)
	if got := fmt.Sprint(o.Indexes(FateDelivered), o.Indexes(FateDeferred), o.Indexes(FateBounced)); got != "[0] [1] [2]" || o.ServerID != "Q1" || o.Unknown {
		t.Errorf("partial: %s, %+v", got, o)
	}

	// Refused after the data: nothing delivered; a 5xx bounces everyone
	// not refused before.
	final := &smtp.StageError{Stage: smtp.StageDataEnd, Err: &smtp.Error{Command: "end of data", Code: 554}}
	res, _ = refuse(env, map[string]int{"c@example.org": 452})
	o = Judge(env, res, final)
	if got := fmt.Sprint(o.Indexes(FateDelivered), o.Indexes(FateDeferred), o.Indexes(FateBounced)); got != "[] [1] [0 2]" || o.ServerID != "" {
		t.Errorf("554 after data: %s", got)
	}

	// Unknown outcome: refusals at RCPT stand, the rest are deferred.
	unknown := &smtp.StageError{Stage: smtp.StageDataEnd, Err: smtp.ErrOutcomeUnknown}
	res, _ = refuse(env, map[string]int{"d@example.org": 550})
	o = Judge(env, res, unknown)
	if got := fmt.Sprint(o.Indexes(FateDelivered), o.Indexes(FateDeferred), o.Indexes(FateBounced)); got != "[] [0 1] [2]" || !o.Unknown {
		t.Errorf("unknown: %s, unknown=%v", got, o.Unknown)
	}

	// No result at all (the connection broke before MAIL).
	o = Judge(env, nil, &smtp.StageError{Stage: smtp.StageMail, Err: errors.New("connection closed by the server while reading")})
	if o.Count(FateDeferred) != 3 {
		t.Errorf("broken before MAIL: %+v", o.Recipients)
	}
	// A message the server can never take.
	o = Judge(env, nil, &smtp.StageError{Stage: smtp.StageMail, Err: smtp.ErrMessageTooLarge})
	if o.Count(FateBounced) != 3 {
		t.Errorf("too large: %+v", o.Recipients)
	}
}
