// Package sink is a capture SMTP server for development and tests: it
// accepts mail the way a submission server does (STARTTLS or implicit TLS,
// AUTH PLAIN and LOGIN, PIPELINING, CHUNKING, 8BITMIME, SMTPUTF8, SIZE, DSN,
// ENHANCEDSTATUSCODES), stores every message with its envelope, and can be
// told to refuse recipients, fail temporarily or answer slowly so that a
// client's handling of those cases can be tested.
//
// The protocol side is github.com/emersion/go-smtp; this package adds the
// policy, the storage and a shutdown that never drops a message it has
// accepted: a client is told 250 only after the message is stored, and
// [Server.Shutdown] waits for every transaction whose data had started.
package sink

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// ErrServerClosed is returned by [Server.Serve] and [Server.Start] after
// [Server.Shutdown] or [Server.Close], and by a second call of those.
var ErrServerClosed = errors.New("sink: server closed")

// quitGrace is how long Shutdown lets clients that got their final reply
// send QUIT before it closes their connections: closing a socket with
// unread input makes TCP reset it, which can destroy a reply still in
// flight.
const quitGrace = time.Second

// RFC 5321 §4.5.3.2.7: the server waits at least 5 minutes for the next
// command; §4.5.3.2.3 asks clients to wait as long for a data block.
const commandTimeout = 5 * time.Minute

// Server is a capture SMTP server. Create it with [New].
type Server struct {
	cfg     Config
	srv     *smtp.Server
	tlsConf *tls.Config
	caPEM   []byte

	rngMu sync.Mutex
	rng   *mathrand.Rand

	// inflight counts, twice per message, transactions whose data has
	// started: once until the data is stored or refused, once until the
	// reply has been written (the session is reset after the reply).
	inflight sync.WaitGroup

	// deliverMu orders storing a message's sequence number and calling
	// OnMessage, so the callback sees messages in Seq order.
	deliverMu sync.Mutex

	mu          sync.Mutex
	closing     bool
	connsClosed bool
	listeners   []net.Listener
	conns       map[*trackedConn]struct{}
	accepted    int
	reserved    int
	messages    []Message
	changed     chan struct{} // closed and replaced when accepted or conns change
	done        chan struct{} // closed when Count messages were accepted
}

// New checks cfg and returns a server ready to [Server.Start] or
// [Server.Serve]. When TLS is on and no certificate is given, it generates
// one (see [Config.Certificate]).
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	if cfg.Store == nil {
		cfg.Keep = true
	}
	s := &Server{
		cfg:     cfg,
		conns:   make(map[*trackedConn]struct{}),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if cfg.Seed != 0 {
		s.rng = mathrand.New(mathrand.NewPCG(cfg.Seed, cfg.Seed))
	} else {
		s.rng = mathrand.New(mathrand.NewPCG(mathrand.Uint64(), mathrand.Uint64()))
	}
	if cfg.TLS != TLSNone {
		cert := cfg.Certificate
		if cert == nil {
			var err error
			cert, s.caPEM, err = GenerateCertificate(certHosts(cfg.Hostname, cfg.Listen))
			if err != nil {
				return nil, err
			}
		} else if len(cert.Certificate) > 0 {
			s.caPEM = pemCert(cert.Certificate[len(cert.Certificate)-1])
		}
		s.tlsConf = &tls.Config{
			Certificates: []tls.Certificate{*cert},
			MinVersion:   tls.VersionTLS12,
		}
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = cfg.Hostname
	srv.LMTP = cfg.LMTP
	srv.Network = "tcp"
	srv.MaxMessageBytes = cfg.MaxSize
	srv.AllowInsecureAuth = cfg.AllowInsecureAuth
	srv.EnableSMTPUTF8 = true
	srv.EnableBINARYMIME = true
	srv.EnableDSN = true
	srv.ReadTimeout = commandTimeout
	srv.WriteTimeout = commandTimeout
	srv.ErrorLog = logger{cfg.Logf}
	if cfg.TLS == TLSStartTLS {
		srv.TLSConfig = s.tlsConf
	}
	s.srv = srv
	return s, nil
}

// CACertPEM returns, in PEM, the certificate a client should trust to
// verify the server: the generated CA, or the last certificate of the chain
// given in [Config.Certificate]. It is nil when TLS is off.
func (s *Server) CACertPEM() []byte { return slices.Clone(s.caPEM) }

// Start listens on [Config.Listen] and serves in the background. It returns
// the address it listens on, useful when the port was 0.
func (s *Server) Start() (net.Addr, error) {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, err
	}
	l, err := s.track(ln)
	if err != nil {
		return nil, err
	}
	go func() {
		if err := s.serve(l); err != nil {
			s.logf("serving %s: %v", ln.Addr(), err)
		}
	}()
	return ln.Addr(), nil
}

// Serve accepts connections on ln until [Server.Shutdown] or [Server.Close],
// and then returns nil. With [TLSImplicit], ln is a plain TCP listener: the
// server does the TLS handshake.
func (s *Server) Serve(ln net.Listener) error {
	l, err := s.track(ln)
	if err != nil {
		return err
	}
	return s.serve(l)
}

func (s *Server) serve(l net.Listener) error {
	if s.cfg.TLS == TLSImplicit {
		l = tls.NewListener(l, s.tlsConf)
	}
	err := s.srv.Serve(l)
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return nil
	}
	return err
}

// Shutdown stops the server without losing a message: it stops listening,
// refuses new transactions with 421, waits for every message whose data had
// started to be stored (or refused) and answered, gives clients a moment to
// QUIT, and closes the remaining connections. When ctx ends first, it
// closes the connections at once and returns ctx's error; a message being
// stored at that moment is still stored before Shutdown returns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closing = true
	listeners := s.listeners
	s.mu.Unlock()

	served := make(chan struct{})
	go func() {
		// This closes go-smtp's listeners and waits for its connection
		// handlers, which end when the connections are closed below.
		s.srv.Shutdown(context.Background())
		close(served)
	}()
	for _, ln := range listeners {
		ln.Close()
	}

	drained := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(drained)
	}()
	var err error
	select {
	case <-drained:
		err = s.waitIdle(ctx)
	case <-ctx.Done():
		err = ctx.Err()
	}

	s.mu.Lock()
	s.connsClosed = true
	conns := make([]*trackedConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	<-served
	return err
}

// waitIdle waits up to quitGrace for every connection to end.
func (s *Server) waitIdle(ctx context.Context) error {
	grace := time.NewTimer(quitGrace)
	defer grace.Stop()
	for {
		s.mu.Lock()
		n, changed := len(s.conns), s.changed
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-grace.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops the server at once: like [Server.Shutdown] without waiting
// for transactions in progress. A message already being stored is still
// stored.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Shutdown(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Done is closed once the server has accepted [Config.Count] messages. It
// is never closed when Count is zero.
func (s *Server) Done() <-chan struct{} { return s.done }

// Received returns how many messages the server has accepted.
func (s *Server) Received() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Wait blocks until the server has accepted at least n messages, or ctx
// ends.
func (s *Server) Wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got, changed := s.accepted, s.changed
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("sink: %d of %d messages received: %w", got, n, ctx.Err())
		}
	}
}

// Messages returns the messages accepted so far, in Seq order, when
// [Config.Keep] is set or no Store is configured; otherwise none.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// track registers ln so Shutdown closes it, and wraps it to keep track of
// its connections.
func (s *Server) track(ln net.Listener) (net.Listener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		ln.Close()
		return nil, ErrServerClosed
	}
	s.listeners = append(s.listeners, ln)
	return &trackedListener{Listener: ln, s: s}, nil
}

// notifyLocked wakes Wait and waitIdle. s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// admit decides whether a new transaction may start.
func (s *Server) admit() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errShuttingDown
	}
	if s.cfg.Count > 0 && s.accepted >= s.cfg.Count {
		return errEnough
	}
	return nil
}

// startData counts a transaction as in flight unless the server is
// shutting down.
func (s *Server) startData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.inflight.Add(2)
	return true
}

// reserve takes one of the Count places for a message about to be stored.
func (s *Server) reserve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Count > 0 && s.accepted+s.reserved >= s.cfg.Count {
		return errEnough
	}
	s.reserved++
	return nil
}

func (s *Server) unreserve() {
	s.mu.Lock()
	s.reserved--
	s.mu.Unlock()
}

// deliver stores m and records it. It returns the error to give the client.
func (s *Server) deliver(m *Message) error {
	if err := s.reserve(); err != nil {
		return err
	}
	if s.cfg.Store != nil {
		path, err := s.cfg.Store.Deliver(m)
		if err != nil {
			s.unreserve()
			s.logf("storing message from %s: %v", m.Remote, err)
			return errStore
		}
		m.Path = path
	}

	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	s.mu.Lock()
	s.reserved--
	s.accepted++
	m.Seq = s.accepted
	if s.cfg.Keep {
		s.messages = append(s.messages, *m)
	}
	reached := s.cfg.Count > 0 && s.accepted == s.cfg.Count
	s.notifyLocked()
	s.mu.Unlock()
	if s.cfg.OnMessage != nil {
		s.cfg.OnMessage(*m)
	}
	if reached {
		close(s.done)
	}
	// The reply names the message's id, as real servers name their queue
	// id, so clients can show it and tests can match it.
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + m.ID}
}

// tempfail draws whether this message gets a simulated temporary failure.
func (s *Server) tempfail() bool {
	if s.cfg.TempfailRate == 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < s.cfg.TempfailRate
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// newID returns 16 random hexadecimal digits.
func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// logger adapts Config.Logf to go-smtp's Logger.
type logger struct {
	logf func(format string, args ...any)
}

func (l logger) Printf(format string, args ...any) {
	if l.logf != nil {
		l.logf(format, args...)
	}
}

func (l logger) Println(args ...any) {
	if l.logf != nil {
		l.logf("%s", fmt.Sprintln(args...))
	}
}

// trackedListener records the connections it accepts.
type trackedListener struct {
	net.Listener
	s *Server
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, s: l.s, delay: l.s.cfg.Delay, replyDue: true}
	l.s.mu.Lock()
	closed := l.s.connsClosed
	if !closed {
		l.s.conns[tc] = struct{}{}
	}
	l.s.mu.Unlock()
	if closed {
		c.Close()
	}
	return tc, nil
}

// trackedConn is a server connection that Shutdown can close, and that
// waits Config.Delay before answering each batch of client input.
type trackedConn struct {
	net.Conn
	s     *Server
	delay time.Duration

	mu       sync.Mutex
	replyDue bool

	closeOnce sync.Once
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.delay > 0 {
		c.mu.Lock()
		c.replyDue = true
		c.mu.Unlock()
	}
	return n, err
}

func (c *trackedConn) Write(b []byte) (int, error) {
	if c.delay > 0 {
		c.mu.Lock()
		due := c.replyDue
		c.replyDue = false
		c.mu.Unlock()
		if due {
			time.Sleep(c.delay)
		}
	}
	return c.Conn.Write(b)
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.notifyLocked()
		c.s.mu.Unlock()
	})
	return err
}

// discard reads r to its end, as go-smtp requires of Data.
func discard(r io.Reader) { io.Copy(io.Discard, r) }
