package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net/smtp"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const testMessage = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: test\r\n" +
	"\r\n" +
	"Hello.\r\n" +
	".leading dot, stuffed on the wire\r\n" +
	"From the start of a line\r\n"

func waitFor(t *testing.T, s *Server, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Wait(ctx, n); err != nil {
		t.Fatal(err)
	}
}

// An independent client (net/smtp) delivers over plain SMTP; the data is
// kept byte for byte, dot-unstuffed.
func TestDeliverPlain(t *testing.T) {
	s, addr := startServer(t, Config{})
	err := smtp.SendMail(addr, nil, "alice@example.org", []string{"bob@example.org", "carol@example.org"}, []byte(testMessage))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, 1)
	msgs := s.Messages()
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if string(m.Data) != testMessage {
		t.Errorf("data:\n%q\nwant:\n%q", m.Data, testMessage)
	}
	if m.From != "alice@example.org" || !slices.Equal(m.To, []string{"bob@example.org", "carol@example.org"}) {
		t.Errorf("envelope from %q to %q", m.From, m.To)
	}
	if m.Seq != 1 || m.Size != int64(len(testMessage)) || m.TLS || m.AuthUser != "" || m.Helo != "localhost" || m.ID == "" {
		t.Errorf("message metadata: %+v", m)
	}
}

func TestCapabilities(t *testing.T) {
	_, addr := startServer(t, Config{TLS: TLSStartTLS, User: "u", Password: "p", MaxSize: 1000})
	w := dial(t, addr)
	w.expect("220 localhost ESMTP")
	w.send("EHLO client.example")
	ehlo := w.expect("250-")
	for _, want := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS", "SMTPUTF8", "BINARYMIME", "DSN", "SIZE 1000"} {
		if !regexp.MustCompile(`(?m)^250[- ]` + want + `$`).MatchString(ehlo) {
			t.Errorf("EHLO reply lacks %s:\n%s", want, ehlo)
		}
	}
	// RFC 4954 §4: no AUTH over plaintext by default.
	if strings.Contains(ehlo, "AUTH") {
		t.Errorf("AUTH offered before TLS:\n%s", ehlo)
	}
	w.send("AUTH PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00u\x00p")))
	w.expect("523 5.7.10 ")
}

func TestStartTLSAuthPlain(t *testing.T) {
	s, addr := startServer(t, Config{TLS: TLSStartTLS, RequireAuth: true, User: "demo", Password: "secret"})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(clientTLS(t, s)); err != nil {
		t.Fatal(err)
	}
	if ok, mechs := c.Extension("AUTH"); !ok || mechs != "PLAIN LOGIN" {
		t.Fatalf("AUTH after TLS: %v %q", ok, mechs)
	}
	// Without AUTH the transaction is refused (RFC 4954 §6).
	wantCode(t, c.Mail("alice@example.org"), 530, "5.7.0 ")
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "demo", "secret", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	send(t, c, "alice@example.org", []string{"bob@example.org"}, testMessage)
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, 1)
	m := s.Messages()[0]
	if !m.TLS || m.AuthUser != "demo" || string(m.Data) != testMessage {
		t.Errorf("message: TLS %v, user %q, data %q", m.TLS, m.AuthUser, m.Data)
	}
}

// wantCode checks that err is a reply with code and text starting with
// prefix.
func wantCode(t *testing.T, err error, code int, prefix string) {
	t.Helper()
	var terr *textproto.Error
	if !errors.As(err, &terr) || terr.Code != code || !strings.HasPrefix(terr.Msg, prefix) {
		t.Fatalf("got %v, want %d %s...", err, code, prefix)
	}
}

func TestAuthRefused(t *testing.T) {
	s, addr := startServer(t, Config{TLS: TLSStartTLS, RequireAuth: true, User: "demo", Password: "secret"})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(clientTLS(t, s)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.Auth(smtp.PlainAuth("", "demo", "wrong", "127.0.0.1")), 535, "5.7.8 ")
}

func send(t *testing.T, c *smtp.Client, from string, to []string, data string) {
	t.Helper()
	if err := c.Mail(from); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			t.Fatal(err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Write([]byte(data)); err != nil {
		t.Fatal(err)
	}
	if err := wc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestImplicitTLS(t *testing.T) {
	s, addr := startServer(t, Config{TLS: TLSImplicit, AnyCredentials: true})
	conn, err := tls.Dial("tcp", addr, clientTLS(t, s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered on a TLS connection")
	}
	if err := c.Auth(smtp.PlainAuth("", "anyone", "anything", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	send(t, c, "", []string{"bob@example.org"}, testMessage)
	c.Quit()
	waitFor(t, s, 1)
	m := s.Messages()[0]
	if !m.TLS || m.AuthUser != "anyone" || m.From != "" {
		t.Errorf("message: TLS %v, user %q, from %q", m.TLS, m.AuthUser, m.From)
	}
}

// AUTH LOGIN, with and without the user name as an initial response.
func TestAuthLogin(t *testing.T) {
	_, addr := startServer(t, Config{User: "demo", Password: "secret", AllowInsecureAuth: true})
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	if ehlo := w.expect("250-"); !strings.Contains(ehlo, "\n250-AUTH PLAIN LOGIN\n") {
		t.Errorf("EHLO reply lacks AUTH PLAIN LOGIN:\n%s", ehlo)
	}
	w.send("AUTH LOGIN")
	w.expect("334 " + b64("Username:"))
	w.send(b64("demo"))
	w.expect("334 " + b64("Password:"))
	w.send(b64("secret"))
	w.expect("235 2.0.0 ")

	w = dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("AUTH LOGIN " + b64("demo"))
	w.expect("334 " + b64("Password:"))
	w.send(b64("nope"))
	w.expect("535 5.7.8 ")
}

func TestRejectRcpt(t *testing.T) {
	rules := []Rule{
		mustRule(t, `^bob@=550 5.1.1 no such user`),
		mustRule(t, `(?i)^carol@=450`),
	}
	s, addr := startServer(t, Config{RejectRcpt: rules})
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	// PIPELINING (RFC 2920): the whole envelope in one write.
	w.send("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.org>", "RCPT TO:<CAROL@example.org>", "RCPT TO:<dave@example.org>", "DATA")
	w.expect("250 2.0.0 ")
	if got := w.reply(); got != "550 5.1.1 no such user" {
		t.Errorf("bob: %q", got)
	}
	if got := w.reply(); got != "450 4.0.0 Recipient refused" {
		t.Errorf("carol: %q", got)
	}
	w.expect("250 2.0.0 ")
	w.expect("354 ")
	w.raw(dotStuff(testMessage) + ".\r\n")
	w.expect("250 2.0.0 ")
	w.send("QUIT")
	w.expect("221 ")
	waitFor(t, s, 1)
	if to := s.Messages()[0].To; !slices.Equal(to, []string{"dave@example.org"}) {
		t.Errorf("recipients %q, want only dave", to)
	}
}

func mustRule(t *testing.T, s string) Rule {
	t.Helper()
	r, err := ParseRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deliverOne runs one transaction on a new connection and returns the
// reply to the end of the data.
func deliverOne(t *testing.T, addr string) string {
	t.Helper()
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.org>", "DATA")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("354 ")
	w.raw(dotStuff(testMessage) + ".\r\n")
	reply := w.reply()
	w.send("QUIT")
	w.expect("221 ")
	return reply
}

func TestTempfail(t *testing.T) {
	s, addr := startServer(t, Config{TempfailRate: 1})
	if got := deliverOne(t, addr); got != "451 4.3.0 Temporary failure, try again later" {
		t.Errorf("reply %q", got)
	}
	if n := s.Received(); n != 0 {
		t.Errorf("%d messages stored after a temporary failure", n)
	}
}

// The same seed refuses the same messages.
func TestTempfailSeed(t *testing.T) {
	outcomes := func() []bool {
		s, addr := startServer(t, Config{TempfailRate: 0.5, Seed: 42})
		var got []bool
		for range 12 {
			got = append(got, strings.HasPrefix(deliverOne(t, addr), "250 "))
		}
		accepted := 0
		for _, ok := range got {
			if ok {
				accepted++
			}
		}
		if n := s.Received(); n != accepted {
			t.Errorf("stored %d messages, accepted %d", n, accepted)
		}
		return got
	}
	a, b := outcomes(), outcomes()
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different outcomes:\n%v\n%v", a, b)
	}
	if !slices.Contains(a, true) || !slices.Contains(a, false) {
		t.Errorf("rate 0.5 gave %v", a)
	}
}

func TestDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	_, addr := startServer(t, Config{Delay: delay})
	start := time.Now()
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("NOOP")
	w.expect("250 ")
	if took := time.Since(start); took < 3*delay {
		t.Errorf("three replies took %v, want at least %v", took, 3*delay)
	}
}

func TestMaxSize(t *testing.T) {
	s, addr := startServer(t, Config{MaxSize: 64})
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	// RFC 1870 §6: refuse a declared size over the limit at MAIL.
	w.send("MAIL FROM:<alice@example.org> SIZE=65")
	w.expect("552 5.3.4 ")
	// And a message that turns out bigger than the limit.
	w.send("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.org>", "DATA")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("354 ")
	w.raw(dotStuff(testMessage) + ".\r\n")
	w.expect("552 5.3.4 ")
	w.send("NOOP")
	w.expect("250 ")
	if n := s.Received(); n != 0 {
		t.Errorf("%d messages stored over the size limit", n)
	}
}

func TestCount(t *testing.T) {
	s, addr := startServer(t, Config{Count: 2})
	for range 2 {
		if got := deliverOne(t, addr); !strings.HasPrefix(got, "250 ") {
			t.Fatalf("reply %q", got)
		}
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after Count messages")
	}
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<alice@example.org>")
	w.expect("451 4.3.2 ")
	if n := s.Received(); n != 2 {
		t.Errorf("received %d, want 2", n)
	}
}

// CHUNKING (RFC 3030): BDAT chunks are joined byte for byte, with no dot
// unstuffing and NUL and bare LF kept, and BDAT may be pipelined.
func TestChunking(t *testing.T) {
	s, addr := startServer(t, Config{})
	part1 := "Subject: chunks\r\n\r\n.not stuffed\r\n"
	part2 := "binary \x00 and bare\nLF\r\n"
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<alice@example.org> BODY=BINARYMIME", "RCPT TO:<bob@example.org>")
	w.raw("BDAT " + strconv.Itoa(len(part1)) + "\r\n" + part1 + "BDAT " + strconv.Itoa(len(part2)) + " LAST\r\n" + part2)
	w.expect("250 ")
	w.expect("250 ")
	w.expect("250 2.0.0 Continue")
	w.expect("250 2.0.0 ")
	w.send("QUIT")
	w.expect("221 ")
	waitFor(t, s, 1)
	m := s.Messages()[0]
	if string(m.Data) != part1+part2 {
		t.Errorf("data %q, want %q", m.Data, part1+part2)
	}
	if m.Params.Body != "BINARYMIME" {
		t.Errorf("BODY %q", m.Params.Body)
	}
}

// DSN (RFC 3461) and SMTPUTF8 (RFC 6531) parameters are recorded.
func TestParameters(t *testing.T) {
	s, addr := startServer(t, Config{})
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<jöran@example.org> SMTPUTF8 BODY=8BITMIME RET=HDRS ENVID=QQ+2B314 SIZE=20",
		"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org",
		"DATA")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("354 ")
	w.raw("Subject: é\r\n\r\nbody\r\n.\r\n")
	w.expect("250 ")
	waitFor(t, s, 1)
	m := s.Messages()[0]
	want := MailParams{Size: 20, Body: "8BITMIME", SMTPUTF8: true, Return: "HDRS", EnvelopeID: "QQ+314"}
	if m.Params != want || m.From != "jöran@example.org" {
		t.Errorf("params %+v from %q, want %+v", m.Params, m.From, want)
	}
	r := m.Rcpts[0]
	if !slices.Equal(r.Notify, []string{"SUCCESS", "FAILURE"}) || r.OriginalRecipient != "RFC822;bob@example.org" {
		t.Errorf("recipient %+v", r)
	}
}

// LMTP (RFC 2033 §4.2): one reply per recipient after the data.
func TestLMTP(t *testing.T) {
	s, addr := startServer(t, Config{LMTP: true})
	w := dial(t, addr)
	w.expect("220 localhost LMTP")
	w.send("LHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.org>", "RCPT TO:<carol@example.org>", "DATA")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("354 ")
	w.raw(dotStuff(testMessage) + ".\r\n")
	w.expect("250 2.0.0 <bob@example.org> ")
	w.expect("250 2.0.0 <carol@example.org> ")
	waitFor(t, s, 1)
}

// Shutdown waits for a message whose data has started, stores it, lets the
// client read its 250, and refuses new connections meanwhile.
func TestShutdownFinishesInflight(t *testing.T) {
	s, addr := startServer(t, Config{})
	w := dial(t, addr)
	w.expect("220 ")
	w.send("EHLO client.example")
	w.expect("250-")
	w.send("MAIL FROM:<alice@example.org>", "RCPT TO:<bob@example.org>", "DATA")
	w.expect("250 ")
	w.expect("250 ")
	w.expect("354 ")
	w.raw(dotStuff(testMessage)[:20])

	idle := dial(t, addr)
	idle.expect("220 ")

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a message in flight", err)
	case <-time.After(300 * time.Millisecond):
	}
	// An idle connection gets no new transaction.
	idle.send("EHLO client.example")
	idle.expect("421 4.3.2 ")

	w.raw(dotStuff(testMessage)[20:] + ".\r\n")
	w.expect("250 2.0.0 ")
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if msgs := s.Messages(); len(msgs) != 1 || string(msgs[0].Data) != testMessage {
		t.Fatalf("messages after shutdown: %+v", msgs)
	}
	if err := s.Shutdown(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("second Shutdown: %v", err)
	}
	if _, err := smtp.Dial(addr); err == nil {
		t.Error("server still accepts connections after Shutdown")
	}
}

// An idle client does not hold Shutdown beyond the grace period.
func TestShutdownClosesIdle(t *testing.T) {
	s, addr := startServer(t, Config{})
	w := dial(t, addr)
	w.expect("220 ")
	start := time.Now()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > quitGrace+2*time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	if _, err := w.r.ReadString('\n'); err == nil {
		t.Error("idle connection still open")
	}
}

func TestCloseBeforeServe(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestStoreFailure(t *testing.T) {
	s, addr := startServer(t, Config{Store: failingStore{}, Keep: true})
	if got := deliverOne(t, addr); got != "451 4.3.0 Local error in storing the message" {
		t.Errorf("reply %q", got)
	}
	if n := s.Received(); n != 0 {
		t.Errorf("received %d", n)
	}
}

type failingStore struct{}

func (failingStore) Deliver(*Message) (string, error) { return "", errors.New("disk full") }

func TestOnMessage(t *testing.T) {
	var got []int
	s, addr := startServer(t, Config{Store: NewStream(&bytes.Buffer{}), OnMessage: func(m Message) { got = append(got, m.Seq) }})
	deliverOne(t, addr)
	deliverOne(t, addr)
	waitFor(t, s, 2)
	if !slices.Equal(got, []int{1, 2}) {
		t.Errorf("OnMessage saw %v", got)
	}
	if msgs := s.Messages(); len(msgs) != 0 {
		t.Errorf("kept %d messages without Keep", len(msgs))
	}
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"auth without TLS":      {RequireAuth: true, User: "u", Password: "p"},
		"auth without users":    {RequireAuth: true, TLS: TLSStartTLS},
		"rate":                  {TempfailRate: 1.5},
		"password without user": {Password: "p"},
		"bad rule code":         {RejectRcpt: []Rule{{Pattern: regexp.MustCompile("x"), Code: 250}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
