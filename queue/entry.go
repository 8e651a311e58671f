package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

// FormatVersion is the version of envelope.json this package writes.
const FormatVersion = 1

// Envelope is what a queued message is sent with: the account and what
// MAIL FROM and RCPT TO carry, DSN parameters included. Addresses are kept
// as text and parsed again by [Envelope.SMTP].
type Envelope struct {
	// Account names the account (profile) to send with; the [Dialer] gives
	// it meaning.
	Account string `json:"account"`
	// From is the reverse path without angle brackets, "" for the null
	// sender <>.
	From string `json:"from"`
	// Recipients are the recipients still to deliver to.
	Recipients []Recipient   `json:"recipients"`
	Body       smtp.BodyType `json:"body,omitempty"`
	UTF8       bool          `json:"smtputf8,omitempty"`
	RequireTLS bool          `json:"requiretls,omitempty"`
	// Return and EnvID are the DSN RET and ENVID parameters (RFC 3461 §4.3, §4.4).
	Return string `json:"ret,omitempty"`
	EnvID  string `json:"envid,omitempty"`
}

// Recipient is one RCPT TO of an [Envelope] with its DSN parameters
// (RFC 3461 §4.1, §4.2) and the last temporary refusal it got.
type Recipient struct {
	Address string   `json:"address"`
	Notify  []string `json:"notify,omitempty"`
	ORCPT   string   `json:"orcpt,omitempty"`
	// LastError is the server's last temporary refusal of this recipient.
	LastError string `json:"last_error,omitempty"`
}

// NewEnvelope records env for account.
func NewEnvelope(account string, env *smtp.Envelope) Envelope {
	e := Envelope{
		Account:    account,
		From:       env.From.String(),
		Body:       env.Body,
		UTF8:       env.UTF8,
		RequireTLS: env.RequireTLS,
		Return:     env.Return,
		EnvID:      env.EnvID,
	}
	if env.From.IsNull() {
		e.From = ""
	}
	for _, r := range env.Recipients {
		e.Recipients = append(e.Recipients, Recipient{
			Address: r.Address.String(),
			Notify:  append([]string(nil), r.Notify...),
			ORCPT:   r.ORCPT,
		})
	}
	return e
}

// SMTP parses the envelope back into the form [smtp.Client.Send] takes.
// Size is left zero; the flush engine sets it from the message file.
func (e Envelope) SMTP() (*smtp.Envelope, error) {
	from, err := smtp.ParseAddress(e.From)
	if err != nil {
		return nil, err
	}
	env := &smtp.Envelope{
		From:       from,
		Body:       e.Body,
		UTF8:       e.UTF8,
		RequireTLS: e.RequireTLS,
		Return:     e.Return,
		EnvID:      e.EnvID,
	}
	for _, r := range e.Recipients {
		a, err := smtp.ParseAddress(r.Address)
		if err != nil {
			return nil, err
		}
		if a.IsNull() {
			return nil, fmt.Errorf("%w: empty recipient address", smtp.ErrBadInput)
		}
		env.Recipients = append(env.Recipients, smtp.Recipient{Address: a, Notify: r.Notify, ORCPT: r.ORCPT})
	}
	return env, nil
}

// Subset returns a copy of e with only the recipients at the given indexes,
// such as the deferred ones of an [Outcome], to queue a partly delivered
// message for the recipients that are left.
func (e Envelope) Subset(indexes []int) Envelope {
	s := e
	s.Recipients = nil
	for _, i := range indexes {
		s.Recipients = append(s.Recipients, e.Recipients[i])
	}
	return s
}

// State says where an entry is.
type State string

const (
	// StateQueued entries are waiting for delivery in entries/.
	StateQueued State = "queued"
	// StateFailed entries were given up on and are kept in failed/.
	StateFailed State = "failed"
)

// Entry is one queued message: its envelope and delivery state, stored as
// envelope.json beside the message. Recipients holds only those still to
// deliver to; Delivered and Refused hold the others.
type Entry struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	// State is not stored: it comes from the folder the entry is in.
	State State `json:"state"`
	Envelope
	// MessageID and Subject are copied from the message header, for
	// listings, the duplicate guard and the failure notice.
	MessageID string `json:"message_id,omitempty"`
	Subject   string `json:"subject,omitempty"`
	// Size is the size of the message file in octets.
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
	// Attempts counts the delivery attempts that ended (a direct send
	// before the message was queued included).
	Attempts    int       `json:"attempts"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// NextAttempt is when the entry is next due.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// LastError is why the last attempt did not deliver to every recipient.
	LastError string `json:"last_error,omitempty"`
	// OutcomeUnknown says an earlier attempt sent the whole message and
	// never learnt whether the server took it (the connection broke, or the
	// process died, after the final dot). The next delivery may be a
	// duplicate.
	OutcomeUnknown bool `json:"outcome_unknown,omitempty"`
	// DataSent is set while an attempt is under way, once the message was
	// read to its end: an entry found with it set was interrupted after the
	// final dot may have gone out.
	DataSent time.Time `json:"data_sent,omitzero"`
	// Delivered lists the recipients that accepted the message.
	Delivered []Delivered `json:"delivered,omitempty"`
	// Refused lists the recipients refused permanently: they are not
	// retried.
	Refused []Refusal `json:"refused,omitempty"`
	// FailedAt is when the entry was given up on, Reason why.
	FailedAt time.Time `json:"failed_at,omitzero"`
	Reason   string    `json:"reason,omitempty"`
	// Notified is set by [Queue.MarkNotified] once a failure notice went
	// to the sender.
	Notified bool `json:"notified,omitempty"`

	dir string
}

// Delivered is a recipient that accepted the message.
type Delivered struct {
	Address string    `json:"address"`
	Time    time.Time `json:"time"`
	// ServerID is the queue id the server named in its reply.
	ServerID string `json:"server_id,omitempty"`
}

// Refusal is a recipient refused for good.
type Refusal struct {
	Address  string    `json:"address"`
	Time     time.Time `json:"time"`
	Code     int       `json:"code,omitempty"`
	Enhanced string    `json:"enhanced,omitempty"`
	// Text is the server's text, escaped.
	Text  string `json:"text,omitempty"`
	Error string `json:"error"`
}

// Due reports whether the entry should be tried at now.
func (e *Entry) Due(now time.Time) bool {
	return e.State == StateQueued && !e.NextAttempt.After(now)
}

// RecipientAddresses lists the addresses still to deliver to.
func (e *Entry) RecipientAddresses() []string {
	var as []string
	for _, r := range e.Recipients {
		as = append(as, r.Address)
	}
	return as
}

const (
	messageFile  = "message"
	envelopeFile = "envelope.json"
)

// ErrNewerFormat means an entry was written by a newer outbox.
var ErrNewerFormat = errors.New("queue entry written by a newer version of outbox")

func readEntry(dir string, state State) (*Entry, error) {
	b, err := os.ReadFile(filepath.Join(dir, envelopeFile))
	if err != nil {
		return nil, err
	}
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, envelopeFile), err)
	}
	if probe.Version > FormatVersion {
		return nil, fmt.Errorf("%s: %w (version %d)", dir, ErrNewerFormat, probe.Version)
	}
	e := new(Entry)
	if err := json.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, envelopeFile), err)
	}
	e.ID = filepath.Base(dir)
	e.State = state
	e.dir = dir
	return e, nil
}

func (e *Entry) encode() ([]byte, error) {
	e.Version = FormatVersion
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// save replaces envelope.json atomically.
func (e *Entry) save() error {
	b, err := e.encode()
	if err != nil {
		return err
	}
	return replaceFile(filepath.Join(e.dir, envelopeFile), b)
}

func (e *Entry) clone() *Entry {
	c := *e
	c.Recipients = append([]Recipient(nil), e.Recipients...)
	c.Delivered = append([]Delivered(nil), e.Delivered...)
	c.Refused = append([]Refusal(nil), e.Refused...)
	return &c
}
