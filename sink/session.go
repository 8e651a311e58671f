package sink

import (
	"crypto/subtle"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Replies of the server's own. go-smtp sends a *smtp.SMTPError as it is.
var (
	// RFC 5321 §3.8: 421 when the service is shutting down.
	errShuttingDown = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}
	// RFC 3463 X.3.2: system not accepting network messages.
	errEnough = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Not accepting more messages"}
	errStore  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in storing the message"}
	// RFC 4954 §6: 530 5.7.0 when authentication is required.
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	errTempfail     = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errBadIdentity  = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authorization identity must match the user name"}
)

// backend makes a session for each client greeting.
type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if err := b.s.admit(); errors.Is(err, errShuttingDown) {
		return nil, err
	}
	_, isTLS := c.TLSConnectionState()
	return &session{
		s:      b.s,
		helo:   c.Hostname(),
		remote: c.Conn().RemoteAddr().String(),
		tls:    isTLS,
	}, nil
}

// session is one client's state between greetings. With BDAT, go-smtp calls
// Data on a goroutine of its own while the connection's goroutine may call
// Reset or Logout, hence the mutex.
type session struct {
	s      *Server
	helo   string
	remote string
	tls    bool

	mu            sync.Mutex
	authed        bool
	authUser      string
	from          string
	params        MailParams
	rcpts         []Recipient
	awaitingReply bool // holds one inflight count until the next Reset
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	cfg := &ss.s.cfg
	if cfg.User == "" && !cfg.AnyCredentials {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if ss.AuthMechanisms() == nil {
		return nil, smtp.ErrAuthUnsupported
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error {
			// RFC 4616 §2: acting for another identity is not supported.
			if identity != "" && identity != user {
				return errBadIdentity
			}
			return ss.login(user, pass)
		}), nil
	case sasl.Login:
		return &loginServer{check: ss.login}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) login(user, pass string) error {
	cfg := &ss.s.cfg
	if !cfg.AnyCredentials {
		userOK := subtle.ConstantTimeCompare([]byte(user), []byte(cfg.User))
		passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(cfg.Password))
		if userOK&passOK != 1 {
			return smtp.ErrAuthFailed
		}
	}
	ss.mu.Lock()
	ss.authed, ss.authUser = true, user
	ss.mu.Unlock()
	return nil
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := ss.s.admit(); err != nil {
		return err
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.s.cfg.RequireAuth && !ss.authed {
		return errAuthRequired
	}
	ss.from = from
	ss.params = MailParams{
		Size:       opts.Size,
		Body:       string(opts.Body),
		SMTPUTF8:   opts.UTF8,
		Return:     string(opts.Return),
		EnvelopeID: opts.EnvelopeID,
	}
	ss.rcpts = nil
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	for _, r := range ss.s.cfg.RejectRcpt {
		if r.Pattern.MatchString(to) {
			return ruleError(r)
		}
	}
	rcpt := Recipient{Address: to}
	for _, n := range opts.Notify {
		rcpt.Notify = append(rcpt.Notify, string(n))
	}
	if opts.OriginalRecipient != "" {
		rcpt.OriginalRecipient = string(opts.OriginalRecipientType) + ";" + opts.OriginalRecipient
	}
	ss.mu.Lock()
	ss.rcpts = append(ss.rcpts, rcpt)
	ss.mu.Unlock()
	return nil
}

func ruleError(r Rule) error {
	enh := smtp.EnhancedCode(r.Enhanced)
	if r.Enhanced == [3]int{} {
		enh = smtp.EnhancedCode{r.Code / 100, 0, 0}
	}
	msg := r.Message
	if msg == "" {
		msg = "Recipient refused"
	}
	return &smtp.SMTPError{Code: r.Code, EnhancedCode: enh, Message: msg}
}

func (ss *session) Data(r io.Reader) error {
	if !ss.s.startData() {
		discard(r)
		return errShuttingDown
	}
	defer ss.s.inflight.Done()
	ss.mu.Lock()
	if ss.awaitingReply {
		// A previous transaction was never reset; its hold ends here.
		ss.s.inflight.Done()
	}
	ss.awaitingReply = true
	ss.mu.Unlock()

	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.tempfail() {
		return errTempfail
	}

	ss.mu.Lock()
	m := Message{
		ID:       newID(),
		From:     ss.from,
		Rcpts:    ss.rcpts,
		Params:   ss.params,
		Data:     data,
		Size:     int64(len(data)),
		Helo:     ss.helo,
		Remote:   ss.remote,
		TLS:      ss.tls,
		AuthUser: ss.authUser,
		Received: time.Now(),
	}
	ss.mu.Unlock()
	for _, rc := range m.Rcpts {
		m.To = append(m.To, rc.Address)
	}
	return ss.s.deliver(&m)
}

// Reset is called after every reply to the data, so the message's hold on
// Shutdown ends here.
func (ss *session) Reset() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.from, ss.params, ss.rcpts = "", MailParams{}, nil
	ss.release()
}

func (ss *session) Logout() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.release()
	return nil
}

// release ends the hold Data took until the reply. ss.mu must be held.
func (ss *session) release() {
	if ss.awaitingReply {
		ss.awaitingReply = false
		ss.s.inflight.Done()
	}
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login-00), which go-sasl offers only as a client:
// it asks for the user name, then the password, each base64 on its own line.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if response == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		// The client sent the user name as an initial response.
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.user = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(strings.Clone(l.user), string(response))
	}
	return nil, true, errors.New("unexpected client response")
}
