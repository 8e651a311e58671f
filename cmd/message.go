package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/message"
	"github.com/outbox-smtp/outbox/smtp"
)

// preparedMessage is the message on its way: its header read (or composed),
// its body still unread in the input.
type preparedMessage struct {
	header    *message.Header // nil for a composed message
	body      io.Reader       // the rest of the input after the header
	compose   *composeRequest // a message to compose, instead of header and body
	stdin     io.Reader       // the body of a composed message, when no flag gives one
	from      string          // the author's address from From:, if any
	size      int64           // the input's size when known, else 0
	headerLen int64           // octets of the header as read
	closers   []io.Closer
	// qualifier, set by envelope, turns bare local names into addresses
	// for the rest of the preparation.
	qualifier *message.Qualifier
}

func (m *preparedMessage) Close() error {
	var errs []error
	for _, c := range m.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// prepareMessage opens the input and reads the header (for a whole
// message), or builds the composed message. Nothing of the body is read.
func prepareMessage(req *sendRequest, stdin io.Reader) (*preparedMessage, error) {
	if req.compose != nil {
		return &preparedMessage{compose: req.compose, stdin: stdin}, nil
	}
	m := &preparedMessage{}
	in := stdin
	name := "standard input"
	if req.file != "" && req.file != "-" {
		f, err := os.Open(req.file)
		if err != nil {
			return nil, &inputError{Path: req.file, Err: errors.Unwrap(err)}
		}
		m.closers = append(m.closers, f)
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			m.size = st.Size()
		}
		in = f
		name = req.file
	} else if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			m.size = st.Size()
		}
	}
	if !req.ignoreDots {
		// sendmail without -i/-oi: a line with a lone "." ends the message.
		in = message.DotTerminated(in)
		m.size = 0
	}
	br := bufio.NewReaderSize(in, 64<<10)
	h, err := message.ReadHeader(br)
	if err != nil {
		if errors.Is(err, message.ErrHeaderTooLarge) {
			return nil, fmt.Errorf("%w: %w", smtp.ErrBadMessage, err)
		}
		return nil, &inputError{Path: name, Err: err}
	}
	m.header = h
	m.headerLen = h.Size()
	m.body = br
	if list, err := message.ParseAddressList(h.Get("From"), nil); err == nil && len(list) > 0 {
		m.from = list[0].Address
	}
	return m, nil
}

// qualifier turns bare local names (cron's "root") into addresses with the
// account's aliases file and the domain of its sender.
func qualifier(acct *account.Account) (*message.Qualifier, error) {
	q := &message.Qualifier{Domain: senderDomain(acct)}
	if acct.AliasesFile != "" {
		aliases, err := message.LoadAliases(acct.AliasesFile)
		if err != nil {
			return nil, &account.Error{Kind: account.ErrValue, Source: acct.AliasesFile, Msg: err.Error()}
		}
		q.Aliases = aliases
	}
	return q, nil
}

func senderDomain(acct *account.Account) string {
	for _, s := range []string{acct.From, acct.FromPattern} {
		if i := strings.LastIndexByte(s, '@'); i >= 0 && !strings.Contains(s[i+1:], "*") {
			return s[i+1:]
		}
	}
	return ""
}

// envelope decides the envelope: the sender from -f/--from, the account,
// or the From header; the recipients from the command line and, with -t,
// the header.
func (m *preparedMessage) envelope(acct *account.Account, req *sendRequest) (*smtp.Envelope, error) {
	q, err := qualifier(acct)
	if err != nil {
		return nil, err
	}
	m.qualifier = q
	env := &smtp.Envelope{Body: req.body}
	from := acct.From
	if from == "" && m.header != nil && m.header.Has("From") {
		// A From field that cannot give the sender (cron's "root" with no
		// domain to qualify it) says why, rather than "no sender address".
		list, err := message.ParseAddressList(m.header.Get("From"), q)
		if err != nil {
			return nil, fmt.Errorf("%w: sender from the From: field %q: %w", smtp.ErrBadInput, m.header.Get("From"), err)
		}
		if len(list) > 0 {
			from = list[0].Address
		}
	}
	if from == "" {
		return nil, &UsageError{Err: errors.New("no sender address"), Hint: "give one with -f/--from, OUTBOX_FROM, the account's from, or a From: header"}
	}
	if from != "<>" && !strings.Contains(from, "@") {
		qs, err := q.Qualify(from)
		if err != nil || len(qs) != 1 {
			return nil, fmt.Errorf("%w: sender %q: %v", smtp.ErrBadInput, from, err)
		}
		from = qs[0]
	}
	if env.From, err = smtp.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("sender %q: %w", from, err)
	}

	lists := [][]string{req.recipients}
	if m.compose != nil {
		lists = append(lists, m.compose.to, m.compose.cc, m.compose.bcc)
	}
	addrs, err := parseAddressLists(q, lists...)
	if err != nil {
		return nil, err
	}
	var rcpts []string
	for _, a := range addrs {
		rcpts = append(rcpts, a.Address)
	}
	if req.readRecipients && m.header != nil {
		hr, err := m.header.Recipients(q)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", smtp.ErrBadInput, err)
		}
		rcpts = append(rcpts, hr...)
	}
	if len(rcpts) == 0 {
		return nil, &UsageError{Err: errors.New("no recipients"), Hint: "name them after the flags, or use -t/--read-recipients to take them from the message"}
	}
	seen := map[string]bool{}
	for _, r := range rcpts {
		addr, err := smtp.ParseAddress(r)
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", r, err)
		}
		key := strings.ToLower(addr.String())
		if seen[key] {
			continue
		}
		seen[key] = true
		rc := smtp.Recipient{Address: addr}
		if len(acct.DSN.Notify) > 0 {
			rc.Notify = acct.DSN.Notify
		}
		env.Recipients = append(env.Recipients, rc)
	}
	switch strings.ToLower(acct.DSN.Return) {
	case "":
	case "headers", "hdrs":
		env.Return = "HDRS"
	default:
		env.Return = acct.DSN.Return
	}
	env.EnvID = acct.DSN.EnvID
	if m.header != nil {
		env.UTF8 = m.header.UTF8()
	}
	return env, nil
}

// reader returns the message to send: the header changed as the account
// says (Bcc stripped, Date, Message-ID and From added when missing), then
// the body, streamed.
func (m *preparedMessage) reader(acct *account.Account, req *sendRequest) (io.Reader, error) {
	if m.compose != nil {
		return m.composeReader(acct, req)
	}
	p := message.Prepare{
		// Bcc recipients are in the envelope; the header must not show them
		// to the others.
		StripBcc:     true,
		AddDate:      acct.AddHeaders.Date,
		AddMessageID: acct.AddHeaders.MessageID,
		// cron's "To: root": the header gets the domain the envelope got
		// (Postfix's append_at_myorigin), so no server sees a bare name.
		QualifyDomain: senderDomain(acct),
		// An added Message-ID names the sender's domain, not whatever a
		// bare From (cron's root) leaves.
		MessageIDDomain: senderDomain(acct),
	}
	if acct.AddHeaders.From && !m.header.Has("From") {
		from := acct.From
		if from == "" {
			from = req.flags.From
		}
		if from != "" && from != "<>" {
			p.AddFrom = &mail.Address{Name: req.fullName, Address: from}
		}
	}
	if err := p.Apply(m.header); err != nil {
		return nil, fmt.Errorf("%w: %w", smtp.ErrBadMessage, err)
	}
	return message.NewReader(m.header, &readErrTag{r: m.body}), nil
}

// messageID is the Message-ID of the message, for the delivery log, once
// the header is final; "" for a composed message.
func (m *preparedMessage) messageID() string {
	if m.header == nil {
		return ""
	}
	return strings.TrimSpace(m.header.Get("Message-ID"))
}

// sizeEstimate is the size of the message to declare with SIZE=, when the
// input's size is known.
func (m *preparedMessage) sizeEstimate() int64 {
	if m.size == 0 || m.header == nil {
		return 0
	}
	return m.size - m.headerLen + m.header.Size()
}

// readErrTag marks errors reading the input as input errors, not network
// errors.
type readErrTag struct{ r io.Reader }

func (t *readErrTag) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		err = &inputError{Path: "message", Err: err}
	}
	return n, err
}

// stdinIsTerminal reports whether r is an interactive terminal, where a
// message body is typed rather than piped.
func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}
