package queue

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/outbox-smtp/outbox/smtp"
)

// Fate is what became of one recipient in a delivery attempt.
type Fate int

const (
	// FateDelivered: the server accepted the message for the recipient.
	FateDelivered Fate = iota
	// FateDeferred: the recipient is to be tried again (a 4xx reply, a broken
	// connection, an unknown outcome).
	FateDeferred
	// FateBounced: the recipient was refused for good (a 5xx reply, or a
	// message that cannot be sent as it is).
	FateBounced
)

func (f Fate) String() string {
	switch f {
	case FateDelivered:
		return "delivered"
	case FateDeferred:
		return "deferred"
	case FateBounced:
		return "bounced"
	}
	return "unknown"
}

// RecipientOutcome is the fate of one recipient of an attempt.
type RecipientOutcome struct {
	Address string
	Fate    Fate
	// Err is why the recipient was deferred or bounced; nil when delivered.
	Err error
}

// Outcome is what one delivery attempt achieved, recipient by recipient.
type Outcome struct {
	// Recipients follows the order of the envelope's recipients.
	Recipients []RecipientOutcome
	// Unknown is set when the whole message went out and the connection
	// failed before the server's reply ([smtp.ErrOutcomeUnknown]): the
	// recipients not refused at RCPT are FateDeferred, and may have got it.
	Unknown bool
	// ServerID is the queue id in the server's reply, when accepted.
	ServerID string
	// Err is the error of the attempt as the sender returned it.
	Err error
}

// Indexes returns the indexes of the recipients with fate f, for
// [Envelope.Subset].
func (o *Outcome) Indexes(f Fate) []int {
	var is []int
	for i, r := range o.Recipients {
		if r.Fate == f {
			is = append(is, i)
		}
	}
	return is
}

// Count counts the recipients with fate f.
func (o *Outcome) Count(f Fate) int { return len(o.Indexes(f)) }

// Judge decides the fate of each recipient of env after
// [smtp.Client.Send] returned res and err (res may be nil): the policy
// shared by a direct send that queues what is left and by the flush engine.
//
// A recipient refused at RCPT (or, with LMTP, after the data) keeps the
// temporariness of its refusal. When Send succeeded the others were
// delivered. When it failed, nothing was delivered, and the others share the
// fate of the message error: bounced for a 5xx reply or a message that
// cannot be sent as it is ([smtp.ErrBadMessage], [smtp.ErrMessageTooLarge],
// [smtp.ErrExtensionMissing], [smtp.ErrBadInput]); deferred for anything
// else, since a broken connection or a protocol error says nothing
// against the message.
func Judge(env *smtp.Envelope, res *smtp.Result, err error) *Outcome {
	o := &Outcome{Err: err, Unknown: errors.Is(err, smtp.ErrOutcomeUnknown)}
	if res != nil && err == nil {
		o.ServerID = res.QueueID
	}
	msgFate := FateDeferred
	if !o.Unknown && bouncesMessage(err) {
		msgFate = FateBounced
	}
	for i, r := range env.Recipients {
		ro := RecipientOutcome{Address: r.Address.String()}
		var rr *smtp.RcptResult
		if res != nil && i < len(res.Recipients) {
			rr = &res.Recipients[i]
		}
		switch {
		case rr != nil && rr.Err != nil:
			ro.Err = rr.Err
			ro.Fate = FateBounced
			var se *smtp.Error
			if errors.As(rr.Err, &se) && se.Temporary() || !errors.As(rr.Err, &se) {
				ro.Fate = FateDeferred
			}
		case err == nil && rr != nil && rr.Accepted():
			ro.Fate = FateDelivered
		case err == nil:
			ro.Fate = FateDeferred
			ro.Err = errors.New("the server gave no reply for this recipient")
		default:
			ro.Fate = msgFate
			ro.Err = err
		}
		o.Recipients = append(o.Recipients, ro)
	}
	return o
}

// bouncesMessage reports whether err from a transaction refuses the
// message for good.
func bouncesMessage(err error) bool {
	if err == nil {
		return false
	}
	var se *smtp.Error
	if errors.As(err, &se) {
		return !se.Temporary()
	}
	for _, p := range []error{smtp.ErrBadMessage, smtp.ErrMessageTooLarge, smtp.ErrExtensionMissing, smtp.ErrBadInput, smtp.ErrNoRecipients} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// Temporary reports whether a failed delivery is worth queueing for a
// later try: a connection refused, reset or timed out, a DNS failure
// (offline), a 4xx reply, an outcome unknown. Configuration and security
// failures (TLS verification, a server without STARTTLS, authentication
// refused with 5xx, a protocol violation) and refusals of the message are
// not: retrying would not help, the user must hear now.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, smtp.ErrOutcomeUnknown) || errors.Is(err, smtp.ErrTimeout) {
		return true
	}
	var se *smtp.Error
	if errors.As(err, &se) {
		return se.Temporary()
	}
	for _, p := range []error{
		smtp.ErrBadInput, smtp.ErrBadMessage, smtp.ErrMessageTooLarge, smtp.ErrExtensionMissing,
		smtp.ErrNoRecipients, smtp.ErrMessageRead, smtp.ErrProtocol, smtp.ErrReplyTooLong,
		smtp.ErrTLSInjection, smtp.ErrStartTLSUnavailable, smtp.ErrAuthUnavailable,
		smtp.ErrInsecureAuth, smtp.ErrClosed, smtp.ErrPartialAbort,
	} {
		if errors.Is(err, p) {
			return false
		}
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		record    tls.RecordHeaderError
	)
	if errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &record) {
		return false
	}
	var dns *net.DNSError
	var ne net.Error
	if errors.As(err, &dns) || errors.As(err, &ne) {
		return true
	}
	// What is left of a session error is a connection the server dropped
	// ("connection closed by the server while reading").
	// TLS and authentication stages are excluded: their failures are
	// configuration problems.
	var stage *smtp.StageError
	return errors.As(err, &stage) && stage.Stage != smtp.StageSTARTTLS && stage.Stage != smtp.StageAuth
}
