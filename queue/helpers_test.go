package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/sink"
	"github.com/outbox-smtp/outbox/smtp"
)

// clock is a settable clock for [Options.Now].
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openQueue opens a queue in a fresh directory with the clock c and a
// jitter of 0.5, which makes every retry delay exactly its nominal value.
func openQueue(t *testing.T, c *clock) *Queue {
	t.Helper()
	return openQueueDir(t, t.TempDir(), c)
}

func openQueueDir(t *testing.T, dir string, c *clock) *Queue {
	t.Helper()
	q, err := Open(dir, &Options{Now: c.Now, Jitter: func() float64 { return 0.5 }})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func testMessage(id string, size int) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: test %s\r\nMessage-ID: <%s@test>\r\n\r\n", id, id)
	for b.Len() < size {
		b.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do.\r\n")
	}
	return b.String()
}

func testEnvelope(account string, rcpts ...string) Envelope {
	e := Envelope{Account: account, From: "alice@example.org"}
	for _, r := range rcpts {
		e.Recipients = append(e.Recipients, Recipient{Address: r})
	}
	return e
}

func enqueue(t testing.TB, q *Queue, env Envelope, msg string) *Entry {
	t.Helper()
	e, err := q.Enqueue(env, bytes.NewReader([]byte(msg)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fakeDialer is a scripted server: respond decides each transaction.
type fakeDialer struct {
	mu      sync.Mutex
	dialErr error
	respond func(env *smtp.Envelope, data []byte) (*smtp.Result, error)
	dials   map[string]int
	sent    []fakeSent
}

type fakeSent struct {
	account string
	env     *smtp.Envelope
	data    []byte
}

func (d *fakeDialer) Dial(ctx context.Context, account string) (Session, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dials == nil {
		d.dials = map[string]int{}
	}
	d.dials[account]++
	if d.dialErr != nil {
		return nil, d.dialErr
	}
	return &fakeSession{d: d, account: account}, nil
}

func (d *fakeDialer) Sent() []fakeSent {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]fakeSent(nil), d.sent...)
}

type fakeSession struct {
	d       *fakeDialer
	account string
	err     error
	closed  bool
}

func (s *fakeSession) Send(ctx context.Context, env *smtp.Envelope, body io.Reader) (*smtp.Result, error) {
	if s.err != nil {
		return nil, s.err
	}
	data, err := io.ReadAll(body)
	if err != nil {
		s.err = err
		return nil, err
	}
	s.d.mu.Lock()
	s.d.sent = append(s.d.sent, fakeSent{account: s.account, env: env, data: data})
	respond := s.d.respond
	s.d.mu.Unlock()
	if respond == nil {
		return accept(env), nil
	}
	res, err := respond(env, data)
	if err != nil && !isRefusal(err) {
		s.err = err
	}
	return res, err
}

func isRefusal(err error) bool {
	var se *smtp.Error
	return errors.As(err, &se)
}

func (s *fakeSession) Err() error   { return s.err }
func (s *fakeSession) Close() error { s.closed = true; return nil }

// accept is the result of a transaction every recipient accepted.
func accept(env *smtp.Envelope) *smtp.Result {
	res := &smtp.Result{Reply: smtp.Reply{Code: 250, Lines: []string{"ok queued as Q1"}}, QueueID: "Q1"}
	for _, r := range env.Recipients {
		res.Recipients = append(res.Recipients, smtp.RcptResult{Recipient: r, Reply: smtp.Reply{Code: 250}})
	}
	return res
}

// refuse makes the recipients in refusals refused at RCPT with the given
// code; the message is accepted by the others (err nil), or, when every
// recipient is refused, the error is ErrNoRecipients.
func refuse(env *smtp.Envelope, refusals map[string]int) (*smtp.Result, error) {
	res := accept(env)
	n := 0
	for i := range res.Recipients {
		r := &res.Recipients[i]
		code, ok := refusals[r.Recipient.Address.String()]
		if !ok {
			continue
		}
		n++
		r.Reply = smtp.Reply{Code: code}
		r.Err = &smtp.Error{Command: "RCPT TO:" + r.Recipient.Address.Path(), Code: code, Enhanced: fmt.Sprintf("%d.1.1", code/100), Lines: []string{"refused"}}
	}
	if n == len(res.Recipients) {
		res.QueueID = ""
		return res, &smtp.StageError{Stage: smtp.StageRcpt, Err: fmt.Errorf("%w: %w", smtp.ErrNoRecipients, res.Recipients[0].Err)}
	}
	return res, nil
}

// sinkDialer sends over real SMTP to a sink on the loopback interface.
type sinkDialer struct {
	addr string
	// wrap, when set, wraps each connection (to crash at a point of the
	// conversation).
	wrap func(net.Conn) net.Conn
}

func (d *sinkDialer) Dial(ctx context.Context, account string) (Session, error) {
	conn, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
	if err != nil {
		return nil, &smtp.StageError{Stage: smtp.StageConnect, Err: err}
	}
	if d.wrap != nil {
		conn = d.wrap(conn)
	}
	c := smtp.NewClient(conn, &smtp.Options{})
	if _, err := c.ReadGreeting(); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return &sinkSession{c: c}, nil
}

type sinkSession struct{ c *smtp.Client }

func (s *sinkSession) Send(ctx context.Context, env *smtp.Envelope, body io.Reader) (*smtp.Result, error) {
	// DATA rather than BDAT, so that the end of the data is the final dot
	// a crash test looks for.
	return s.c.Send(env, body, &smtp.SendOptions{NoChunking: true})
}
func (s *sinkSession) Err() error   { return s.c.Err() }
func (s *sinkSession) Close() error { return s.c.Quit() }

func startSink(t *testing.T) (*sink.Server, string) {
	t.Helper()
	s, err := sink.New(sink.Config{Listen: "127.0.0.1:0", TLS: sink.TLSNone, Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr.String()
}

var messageIDField = regexp.MustCompile(`(?mi)^Message-ID: *(<[^>]*>)`)

// deliveries counts the messages a sink got, per Message-ID and
// recipient ("<id> rcpt").
func deliveries(s *sink.Server) map[string]int {
	n := map[string]int{}
	for _, m := range s.Messages() {
		id := ""
		if sm := messageIDField.FindSubmatch(m.Data); sm != nil {
			id = string(sm[1])
		}
		for _, to := range m.To {
			n[id+" "+to]++
		}
	}
	return n
}

// drain waits until the sink has stored everything in flight.
func drain(t *testing.T, s *sink.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func readDirNames(q *Queue, sub string) ([]string, error) {
	des, err := os.ReadDir(filepath.Join(q.Dir(), sub))
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names, err
}
