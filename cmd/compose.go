package cmd

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/message"
	"github.com/outbox-smtp/outbox/smtp"
)

// composeReader builds the message that the composing flags describe:
// From from the account or -f/--from, To from the recipients and --to, Cc
// from --cc (Bcc only in the envelope), the body from --body, --body-file or
// standard input, and the attachments.
func (m *preparedMessage) composeReader(acct *account.Account, req *sendRequest) (io.Reader, error) {
	cr := m.compose
	from := acct.From
	if from == "" {
		from = req.flags.From
	}
	if from == "" || from == "<>" {
		return nil, &UsageError{Err: errors.New("no From address for the composed message"), Hint: "give one with -f/--from, OUTBOX_FROM or the account's from"}
	}
	c := &message.Composition{
		From:    &mail.Address{Name: req.fullName, Address: from},
		Subject: cr.subject,
	}
	var err error
	if c.To, err = parseAddressLists(m.qualifier, req.recipients, cr.to); err != nil {
		return nil, err
	}
	if c.Cc, err = parseAddressLists(m.qualifier, cr.cc); err != nil {
		return nil, err
	}
	for _, h := range cr.headers {
		name, value, err := message.ParseField(h)
		if err != nil {
			return nil, &UsageError{Err: fmt.Errorf("-H/--header %q: %w", h, err), Hint: `write headers as "Name: value"`}
		}
		c.Headers = append(c.Headers, [2]string{name, value})
	}
	switch {
	case cr.body != nil:
		c.Body = strings.NewReader(*cr.body)
	case cr.bodyFile != "":
		f, err := os.Open(cr.bodyFile)
		if err != nil {
			return nil, &inputError{Path: cr.bodyFile, Err: errors.Unwrap(err)}
		}
		m.closers = append(m.closers, f)
		c.Body = f
	case !stdinIsTerminal(m.stdin):
		c.Body = &readErrTag{r: m.stdin}
	default:
		c.Body = strings.NewReader("")
	}
	for _, a := range cr.attach {
		att, err := message.ParseAttachArg(a)
		if err != nil {
			return nil, &inputError{Path: a, Err: err}
		}
		c.Attachments = append(c.Attachments, att)
	}
	composed, err := c.Open()
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, &inputError{Path: pe.Path, Err: pe.Err}
		}
		return nil, err
	}
	m.closers = append(m.closers, composed)
	m.header = composed.Header
	return composed, nil
}

// parseAddressLists parses address lists given on the command line, bare
// local names qualified by q.
func parseAddressLists(q *message.Qualifier, lists ...[]string) ([]*mail.Address, error) {
	var out []*mail.Address
	for _, list := range lists {
		for _, s := range list {
			as, err := message.ParseAddressList(s, q)
			if err != nil {
				return nil, fmt.Errorf("%w: recipient %q: %w", smtp.ErrBadInput, s, err)
			}
			out = append(out, as...)
		}
	}
	return out, nil
}
