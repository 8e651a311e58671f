package smtp

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"
)

// Options configure a [Client]. The zero value is usable: every field has a
// documented default.
type Options struct {
	// LocalName is the name sent with EHLO, HELO or LHLO (RFC 5321
	// §4.1.1.1: the client's fully-qualified domain name or an address
	// literal). Default "localhost".
	LocalName string
	// LMTP makes the client speak LMTP (RFC 2033): LHLO instead of EHLO,
	// and one reply per accepted recipient after the message data.
	LMTP bool
	// AllowHELO permits falling back to HELO when the server refuses EHLO.
	// Set it only when neither TLS nor AUTH is required: a HELO session has
	// no extensions, so no STARTTLS and no AUTH.
	AllowHELO bool
	// AllowInsecureAuth permits mechanisms that send the password in clear
	// (PLAIN, LOGIN) on a connection without TLS.
	AllowInsecureAuth bool
	// Timeouts per stage; zero fields take the RFC 5321 §4.5.3.2 defaults.
	Timeouts Timeouts
	// Deadline, when set, caps every stage: the whole session must end by
	// then.
	Deadline time.Time
	// Limits bound the size of server replies.
	Limits ReplyLimits
	// Trace receives the protocol transcript when set. Secrets are
	// redacted and message data is summarised unless the fields below say
	// otherwise.
	Trace io.Writer
	// TraceData shows every line of the message data in the transcript.
	TraceData bool
	// TraceSecrets shows the client's SASL lines unredacted. Never set it
	// for a transcript that leaves the user's terminal.
	TraceSecrets bool
}

// Timeouts are the per-stage limits of a session. Each is an absolute
// deadline set when the stage starts (a server that trickles bytes cannot
// extend it). The defaults are the minimums RFC 5321 §4.5.3.2 asks of a
// client.
type Timeouts struct {
	Greeting  time.Duration // §4.5.3.2.1 initial 220 message: 5 minutes
	Command   time.Duration // EHLO, STARTTLS, AUTH, RSET, NOOP, QUIT: 5 minutes
	Handshake time.Duration // TLS handshake: 1 minute
	Mail      time.Duration // §4.5.3.2.2 MAIL: 5 minutes
	Rcpt      time.Duration // §4.5.3.2.3 RCPT: 5 minutes
	DataInit  time.Duration // §4.5.3.2.4 DATA initiation: 2 minutes
	DataBlock time.Duration // §4.5.3.2.5 each data block (each write, each BDAT chunk): 3 minutes
	DataEnd   time.Duration // §4.5.3.2.6 after the final dot (or BDAT LAST): 10 minutes
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Greeting, 5*time.Minute)
	def(&t.Command, 5*time.Minute)
	def(&t.Handshake, time.Minute)
	def(&t.Mail, 5*time.Minute)
	def(&t.Rcpt, 5*time.Minute)
	def(&t.DataInit, 2*time.Minute)
	def(&t.DataBlock, 3*time.Minute)
	def(&t.DataEnd, 10*time.Minute)
	return t
}

// maxCommandLine is the longest command line, CRLF included (RFC 5321
// §4.5.3.1.4).
const maxCommandLine = 512

// maxSASLLine is the longest AUTH command or SASL response line, CRLF
// included (RFC 4954 §4: 12288 octets).
const maxSASLLine = 12288

// Client is one SMTP or LMTP session over one connection. It is not safe
// for concurrent use.
type Client struct {
	conn  net.Conn
	cw    *connWriter
	br    *bufio.Reader
	bw    *bufio.Writer
	rr    *ReplyReader
	opts  Options
	tm    Timeouts
	trace *tracer

	greeting *Reply
	ext      *Extensions
	helo     bool // the session fell back to HELO: no extensions
	tls      *tls.ConnectionState
	authMech string

	// err is the sticky error of a broken client. inSync tells whether
	// the command stream is still in step with the server, so that QUIT may
	// still be sent.
	err    error
	inSync bool
	closed bool

	// Reused by every message of the session.
	body      *BodyWriter
	chunks    *ChunkWriter
	chunkSize int
	readBuf   []byte
}

// NewClient returns a client for conn. It does no I/O: the greeting is read
// by the first call that needs it.
func NewClient(conn net.Conn, opts *Options) *Client {
	c := &Client{conn: conn}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.LocalName == "" {
		c.opts.LocalName = "localhost"
	}
	c.tm = c.opts.Timeouts.withDefaults()
	c.trace = &tracer{w: c.opts.Trace, start: time.Now()}
	c.cw = &connWriter{c: c}
	c.bw = bufio.NewWriterSize(c.cw, 64<<10)
	c.setReader(conn)
	if tc, ok := conn.(*tls.Conn); ok {
		// Implicit TLS (RFC 8314): the caller dialled with TLS; complete
		// the handshake before the greeting so failures are TLS failures.
		c.implicitTLS(tc)
	}
	return c
}

func (c *Client) setReader(r io.Reader) {
	c.br = bufio.NewReaderSize(r, 4096)
	enhanced := c.rr != nil && c.rr.enhanced
	c.rr = NewReplyReader(c.br, c.opts.Limits, enhanced)
	if c.trace.enabled() {
		c.rr.onLine = c.trace.server
	}
}

func (c *Client) implicitTLS(tc *tls.Conn) {
	c.setDeadline(c.tm.Handshake)
	if err := tc.Handshake(); err != nil {
		c.fail(&StageError{StageConnect, fmt.Errorf("TLS handshake: %w", err)}, false)
		return
	}
	st := tc.ConnectionState()
	c.tls = &st
	c.trace.event("TLS %s established (%s)", tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
}

// Dial connects to addr over TCP and returns a client. The greeting is read
// by the first command.
func Dial(addr string, timeout time.Duration, opts *Options) (*Client, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, &StageError{StageConnect, err}
	}
	return NewClient(conn, opts), nil
}

// DialTLS connects to addr with implicit TLS (RFC 8314 §3): TLS from the
// first byte, never a plaintext fallback. The handshake is completed before
// DialTLS returns.
func DialTLS(addr string, timeout time.Duration, config *tls.Config, opts *Options) (*Client, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: timeout}, Config: config}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && !ne.Timeout() || isDialError(err) {
			return nil, &StageError{StageConnect, err}
		}
		return nil, &StageError{StageConnect, fmt.Errorf("TLS handshake: %w", err)}
	}
	return NewClient(conn, opts), nil
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// connWriter writes to the current connection (which STARTTLS replaces),
// setting a write deadline before every write so that a server that stops
// reading cannot hang the client (RFC 5321 §4.5.3.2.5).
type connWriter struct {
	c       *Client
	timeout time.Duration
}

func (w *connWriter) Write(p []byte) (int, error) {
	c := w.c
	t := w.timeout
	if t <= 0 {
		t = c.tm.Command
	}
	c.conn.SetWriteDeadline(c.deadline(t))
	return c.conn.Write(p)
}

func (c *Client) deadline(d time.Duration) time.Time {
	t := time.Now().Add(d)
	if !c.opts.Deadline.IsZero() && c.opts.Deadline.Before(t) {
		return c.opts.Deadline
	}
	return t
}

func (c *Client) setDeadline(d time.Duration) {
	t := c.deadline(d)
	c.conn.SetDeadline(t)
}

// fail marks the client broken with err unless it already is, and returns
// the sticky error. inSync tells whether QUIT may still be sent.
func (c *Client) fail(err error, inSync bool) error {
	if c.err == nil {
		c.err = err
		c.inSync = inSync
		if !inSync {
			c.conn.Close()
		}
	}
	return c.err
}

// Err returns the error that broke the client, or nil.
func (c *Client) Err() error { return c.err }

// Extensions returns what the server advertised in its last EHLO or LHLO
// reply, or nil before it.
func (c *Client) Extensions() *Extensions { return c.ext }

// Greeting returns the server's greeting, once read.
func (c *Client) Greeting() (Reply, bool) {
	if c.greeting == nil {
		return Reply{}, false
	}
	return *c.greeting, true
}

// TLSConnectionState returns the state of the TLS layer, if the session
// runs over TLS (implicit or after STARTTLS).
func (c *Client) TLSConnectionState() (tls.ConnectionState, bool) {
	if c.tls == nil {
		return tls.ConnectionState{}, false
	}
	return *c.tls, true
}

// AuthMechanism returns the mechanism of a successful AUTH, or "".
func (c *Client) AuthMechanism() string { return c.authMech }

// LocalAddr and RemoteAddr are those of the underlying connection.
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// usable returns the sticky error, or ErrClosed.
func (c *Client) usable() error {
	if c.closed {
		return ErrClosed
	}
	return c.err
}

// checkLine is the final guard on every command line written: no CR, LF or
// NUL (no command injection through any argument), and within the length
// limit.
func checkLine(line string, max int) error {
	if i := strings.IndexAny(line, "\r\n\x00"); i >= 0 {
		return fmt.Errorf("%w: command contains a CR, LF or NUL byte", ErrBadInput)
	}
	if len(line)+2 > max {
		return fmt.Errorf("%w: command line longer than %d octets", ErrBadInput, max)
	}
	return nil
}

// queueLine buffers one command line. shown is what the trace shows.
func (c *Client) queueLine(line, shown string, max int) error {
	if err := checkLine(line, max); err != nil {
		return err
	}
	if c.trace.enabled() {
		c.trace.client(shown)
	}
	c.bw.WriteString(line)
	_, err := c.bw.WriteString("\r\n")
	return err
}

// flush sends what is buffered.
func (c *Client) flush(stage Stage) error {
	if err := c.bw.Flush(); err != nil {
		return c.ioError(stage, "sending", err)
	}
	return nil
}

// ioError wraps a connection error of a stage and breaks the client.
func (c *Client) ioError(stage Stage, what string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		err = fmt.Errorf("%w %s", ErrTimeout, what)
	} else if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = fmt.Errorf("connection closed by the server while %s", what)
	} else if !errors.Is(err, ErrProtocol) && !errors.Is(err, ErrReplyTooLong) {
		err = fmt.Errorf("%s: %w", what, err)
	}
	return c.fail(&StageError{stage, err}, false)
}

// readReply reads one reply within the stage's timeout.
func (c *Client) readReply(stage Stage, timeout time.Duration, maxLine int) (Reply, error) {
	c.conn.SetReadDeadline(c.deadline(timeout))
	rep, err := c.rr.readReply(maxLine)
	if err != nil {
		return rep, c.ioError(stage, "waiting for the reply", err)
	}
	return rep, nil
}

// expect checks a reply against the codes allowed for its command (RFC 5321
// §4.3.2). A refusal is an [*Error]; a well-formed but unexpected code is a
// protocol violation, never a success. 421 breaks the session: the server
// is closing the channel (§3.8).
func (c *Client) expect(stage Stage, command string, rep Reply, codes ...int) error {
	if slices.Contains(codes, rep.Code) {
		return nil
	}
	if rep.Code >= 400 {
		e := &Error{Command: command, Code: rep.Code, Enhanced: rep.Enhanced, Lines: rep.Lines}
		if rep.Code == 421 {
			return c.fail(&StageError{stage, e}, false)
		}
		return &StageError{stage, e}
	}
	return c.fail(&StageError{stage, fmt.Errorf("%w: unexpected reply to %s: %s", ErrProtocol, command, rep)}, true)
}

// roundTrip sends one command and reads its reply. Before a new turn no
// server bytes may be waiting (RFC 5321 §4.2: replies answer commands; bytes
// sent unasked are an injection attempt or a broken server).
func (c *Client) roundTrip(stage Stage, timeout time.Duration, line, shown string, codes ...int) (Reply, error) {
	if err := c.usable(); err != nil {
		return Reply{}, err
	}
	if err := c.readGreeting(); err != nil {
		return Reply{}, err
	}
	if c.br.Buffered() > 0 {
		return Reply{}, c.fail(&StageError{stage, fmt.Errorf("%w: the server sent data before %s", ErrProtocol, verb(line))}, false)
	}
	if err := c.queueLine(line, shown, maxCommandLine); err != nil {
		return Reply{}, &StageError{stage, err}
	}
	c.cw.timeout = c.tm.Command
	if err := c.flush(stage); err != nil {
		return Reply{}, err
	}
	rep, err := c.readReply(stage, timeout, c.rr.limits.MaxLine)
	if err != nil {
		return rep, err
	}
	return rep, c.expect(stage, shown, rep, codes...)
}

func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return strings.ToUpper(v)
}

// ReadGreeting reads the server's greeting if it has not been read yet
// (RFC 5321 §4.3.1: 220 to proceed, 554 to refuse service).
func (c *Client) ReadGreeting() (Reply, error) {
	if err := c.readGreeting(); err != nil {
		return Reply{}, err
	}
	return *c.greeting, nil
}

func (c *Client) readGreeting() error {
	if c.greeting != nil {
		return nil
	}
	if err := c.usable(); err != nil {
		return err
	}
	rep, err := c.readReply(StageGreeting, c.tm.Greeting, c.rr.limits.MaxLine)
	if err != nil {
		return err
	}
	c.greeting = &rep
	if err := c.expect(StageGreeting, "greeting", rep, 220); err != nil {
		// A 554 greeting: the server may still want QUIT (§3.1).
		return c.fail(err, rep.Code == 554)
	}
	return nil
}

// Hello sends EHLO (LHLO for LMTP) and records the server's extensions.
// When the server refuses EHLO and Options.AllowHELO is set, it falls back
// to HELO (RFC 5321 §3.2).
func (c *Client) Hello() error {
	name := c.opts.LocalName
	if c.opts.LMTP {
		rep, err := c.roundTrip(StageEHLO, c.tm.Command, "LHLO "+name, "LHLO "+name, 250)
		if err != nil {
			return err
		}
		c.setExtensions(rep)
		return nil
	}
	rep, err := c.roundTrip(StageEHLO, c.tm.Command, "EHLO "+name, "EHLO "+name, 250)
	if err == nil {
		c.setExtensions(rep)
		return nil
	}
	var e *Error
	if !c.opts.AllowHELO || c.err != nil || !errors.As(err, &e) || e.Code < 500 {
		return err
	}
	if _, err := c.roundTrip(StageEHLO, c.tm.Command, "HELO "+name, "HELO "+name, 250); err != nil {
		return err
	}
	c.helo = true
	c.ext = &Extensions{}
	c.trace.event("EHLO refused; using HELO: no extensions")
	return nil
}

func (c *Client) setExtensions(rep Reply) {
	c.ext = ParseEHLO(rep.Lines)
	c.helo = false
	// RFC 2034 §3: enhanced codes are parsed only when advertised.
	c.rr.enhanced = c.ext.Has(ExtEnhancedCode)
}

// hello makes sure EHLO was done.
func (c *Client) hello() error {
	if c.ext != nil {
		return nil
	}
	return c.Hello()
}

// StartTLS upgrades the connection (RFC 3207). It refuses when the server
// does not advertise STARTTLS ([ErrStartTLSUnavailable]) and when the server
// sent anything after its 220 ([ErrTLSInjection]). Any failure leaves the
// client broken: the caller can only Quit; there is never a plaintext
// fallback. On success every extension learned before is forgotten and EHLO
// is sent again (RFC 3207 §4.2).
func (c *Client) StartTLS(config *tls.Config) error {
	if err := c.hello(); err != nil {
		return err
	}
	if c.tls != nil {
		return nil
	}
	if !c.ext.Has(ExtStartTLS) {
		return c.fail(&StageError{StageSTARTTLS, ErrStartTLSUnavailable}, true)
	}
	if _, err := c.roundTrip(StageSTARTTLS, c.tm.Command, "STARTTLS", "STARTTLS", 220); err != nil {
		return c.fail(err, true)
	}
	// RFC 3207 §5 / CVE-2011-0411: bytes that arrived with the 220 were
	// sent before TLS but would be read as if after it. Fail closed.
	if c.br.Buffered() > 0 {
		return c.fail(&StageError{StageSTARTTLS, ErrTLSInjection}, false)
	}
	tc := tls.Client(c.conn, config)
	c.setDeadline(c.tm.Handshake)
	if err := tc.Handshake(); err != nil {
		return c.fail(&StageError{StageSTARTTLS, fmt.Errorf("TLS handshake: %w", err)}, false)
	}
	st := tc.ConnectionState()
	c.conn = tc
	c.tls = &st
	// A fresh reader on the TLS layer: nothing read before survives.
	c.setReader(tc)
	c.ext = nil
	c.rr.enhanced = false
	c.trace.event("TLS %s established (%s)", tlsVersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
	return c.Hello()
}

func tlsVersionName(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// Noop sends NOOP (RFC 5321 §4.1.1.9).
func (c *Client) Noop() error {
	if err := c.hello(); err != nil {
		return err
	}
	_, err := c.roundTrip(StageReset, c.tm.Command, "NOOP", "NOOP", 250)
	return err
}

// Reset sends RSET (RFC 5321 §4.1.1.5), abandoning any transaction.
func (c *Client) Reset() error {
	if err := c.hello(); err != nil {
		return err
	}
	_, err := c.roundTrip(StageReset, c.tm.Command, "RSET", "RSET", 250)
	return err
}

// Quit sends QUIT when the session is still in step with the server, and
// closes the connection. Its error never changes the outcome of a message
// already accepted.
func (c *Client) Quit() error {
	if c.closed {
		return nil
	}
	defer c.Close()
	if c.err != nil && !c.inSync {
		return nil
	}
	if c.greeting == nil {
		return nil
	}
	// QUIT is allowed on a broken but in-sync session: clear the sticky
	// error just for this command.
	saved := c.err
	c.err = nil
	_, err := c.roundTrip(StageQuit, c.tm.Command, "QUIT", "QUIT", 221)
	if saved != nil {
		c.err = saved
	}
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.conn.Close()
}
