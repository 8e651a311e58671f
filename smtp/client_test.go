package smtp

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/tlsconf/tlstest"
)

const body3 = "From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello.\r\n"

// TestSendPlainWireExact checks every byte the client writes in a session
// without PIPELINING: one command per round trip, dot-stuffed DATA.
func TestSendPlainWireExact(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("SIZE 1000000", "8BITMIME", "ENHANCEDSTATUSCODES")
		f.expect("MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME")
		f.reply("250 2.1.0 Ok")
		f.expect("RCPT TO:<b@example.org>")
		f.reply("250 2.1.5 Ok")
		f.expect("DATA")
		f.reply("354 End data with <CR><LF>.<CR><LF>")
		f.data()
		f.reply("250 2.0.0 Ok: queued as 4XyZ12")
		f.expect("QUIT")
		f.reply("221 2.0.0 Bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.Size = 100
	res, err := c.Send(env, strings.NewReader("Subject: x\n\n.dot\nend"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueID != "4XyZ12" {
		t.Errorf("queue id %q", res.QueueID)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	f := wait()
	want := strings.Join([]string{
		"EHLO client.example",
		"MAIL FROM:<a@example.org> SIZE=100 BODY=8BITMIME",
		"RCPT TO:<b@example.org>",
		"DATA",
		"Subject: x",
		"",
		"..dot",
		"end",
		".",
		"QUIT",
	}, "\r\n") + "\r\n"
	if got := f.Got(); got != want {
		t.Errorf("client wrote\n%q\nwant\n%q", got, want)
	}
	if !res.Recipients[0].Accepted() || res.Pipelined || res.Chunked {
		t.Errorf("result %+v", res)
	}
}

// TestPipelinedChunkingOneFlight proves the round-trip bound: with
// PIPELINING and CHUNKING, MAIL + RCPT×3 + BDAT LAST + QUIT leave in one
// write, and the client reads all replies in order.
func TestPipelinedChunkingOneFlight(t *testing.T) {
	counter := &countingConn{}
	conn, wait := startFake(t, func(f *fake) {
		before := f.greetCounting(counter, "PIPELINING", "CHUNKING", "8BITMIME")
		f.expect("MAIL FROM:<a@example.org> BODY=8BITMIME")
		f.expect("RCPT TO:<b@example.org>")
		f.expect("RCPT TO:<c@example.org>")
		f.expect("RCPT TO:<d@example.org>")
		f.expect(fmt.Sprintf("BDAT %d LAST", len(body3)))
		if got := f.bytes(len(body3)); got != body3 {
			t.Errorf("chunk %q", got)
		}
		f.expect("QUIT")
		if n := counter.Writes() - before; n != 1 {
			t.Errorf("the transaction took %d writes, want 1", n)
		}
		// Replies in one segment too.
		f.reply("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 no such user", "250 2.1.5 ok", "250 2.0.0 queued as ABC", "221 bye")
		f.eof()
	})
	counter.Conn = conn
	c := NewClient(counter, testOptions(nil))
	res, err := c.Send(envelope(t, "a@example.org", "b@example.org", "c@example.org", "d@example.org"),
		strings.NewReader(body3), &SendOptions{Quit: true})
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if !res.Pipelined || !res.Chunked || res.QueueID != "ABC" || res.Accepted() != 2 {
		t.Errorf("result %+v", res)
	}
	var e *Error
	if !errors.As(res.Recipients[1].Err, &e) || e.Code != 550 || e.Enhanced != "" || e.Temporary() {
		t.Errorf("refused recipient: %v", res.Recipients[1].Err)
	}
}

// TestPipelinedDataTwoFlights: with PIPELINING but no CHUNKING, MAIL +
// RCPT×3 + DATA go in one write, the message + final dot + QUIT in a second.
func TestPipelinedDataTwoFlights(t *testing.T) {
	counter := &countingConn{}
	conn, wait := startFake(t, func(f *fake) {
		before := f.greetCounting(counter, "PIPELINING")
		f.expect("MAIL FROM:<a@example.org>")
		f.expect("RCPT TO:<b@example.org>")
		f.expect("RCPT TO:<c@example.org>")
		f.expect("RCPT TO:<d@example.org>")
		f.expect("DATA")
		if n := counter.Writes() - before; n != 1 {
			t.Errorf("commands took %d writes, want 1", n)
		}
		f.reply("250 ok", "250 ok", "250 ok", "250 ok", "354 go")
		if got := f.data(); got != body3+".\r\n" {
			t.Errorf("data %q", got)
		}
		f.expect("QUIT")
		if n := counter.Writes() - before; n != 2 {
			t.Errorf("the transaction took %d writes, want 2", n)
		}
		f.reply("250 ok id=1abc-0002", "221 bye")
		f.eof()
	})
	counter.Conn = conn
	c := NewClient(counter, testOptions(nil))
	res, err := c.Send(envelope(t, "a@example.org", "b@example.org", "c@example.org", "d@example.org"),
		strings.NewReader(body3), &SendOptions{Quit: true})
	if err != nil {
		t.Fatal(err)
	}
	wait()
	if res.QueueID != "1abc-0002" || res.Accepted() != 3 {
		t.Errorf("result %+v", res)
	}
}

// TestManyRecipientsNoDeadlock pipelines more recipients than fit in the
// socket buffers in either direction while the server answers each RCPT
// as it reads it.
func TestManyRecipientsNoDeadlock(t *testing.T) {
	const n = 20000
	conn, wait := startFake(t, func(f *fake) {
		f.greet("PIPELINING")
		f.expect("MAIL FROM:<a@example.org>")
		f.reply("250 ok")
		long := strings.Repeat("x", 400)
		for i := 0; i < n; i++ {
			f.line()
			f.reply("250 2.1.5 recipient ok " + long)
		}
		f.expect("DATA")
		f.reply("354 go")
		f.data()
		f.reply("250 ok")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	c := NewClient(conn, testOptions(nil))
	env := &Envelope{From: mustAddr(t, "a@example.org")}
	for i := 0; i < n; i++ {
		env.Recipients = append(env.Recipients, Recipient{Address: mustAddr(t, "user"+strings.Repeat("r", 40)+"@example.org")})
	}
	res, err := c.Send(env, strings.NewReader(body3), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted() != n {
		t.Errorf("accepted %d", res.Accepted())
	}
	c.Quit()
	wait()
}

// TestSeveralMessagesOneConnection sends two messages in one session.
func TestSeveralMessagesOneConnection(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("PIPELINING", "CHUNKING")
		for i := 0; i < 2; i++ {
			f.expect("MAIL FROM:<a@example.org>")
			f.expect("RCPT TO:<b@example.org>")
			f.expect(fmt.Sprintf("BDAT %d LAST", len(body3)))
			f.bytes(len(body3))
			f.reply("250 ok", "250 ok", "250 2.0.0 Ok: queued as Q"+string(rune('1'+i)))
		}
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	for i := 0; i < 2; i++ {
		res, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader(body3), nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := "Q" + string(rune('1'+i)); res.QueueID != want {
			t.Errorf("queue id %q, want %q", res.QueueID, want)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	wait()
}

// TestBDATWithoutPipelining: every chunk waits for its 250.
func TestBDATWithoutPipelining(t *testing.T) {
	body := strings.Repeat("0123456789abcdef\r\n", 10) // 180 octets
	conn, wait := startFake(t, func(f *fake) {
		f.greet("CHUNKING")
		f.expect("MAIL FROM:<a@example.org>")
		f.reply("250 ok")
		f.expect("RCPT TO:<b@example.org>")
		f.reply("250 ok")
		f.expect("BDAT 100")
		f.bytes(100)
		f.reply("250 100 octets received")
		f.expect("BDAT 80 LAST")
		f.bytes(80)
		f.reply("250 queued as X9")
	})
	c := NewClient(conn, testOptions(nil))
	res, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader(body), &SendOptions{ChunkSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.QueueID != "X9" || res.Size != 180 {
		t.Errorf("result %+v", res)
	}
	wait()
}

// TestSmugglingBodies: no body can end the data early, whatever its line
// endings (RFC 5321 §4.5.2; the SMTP smuggling class of attacks).
func TestSmugglingBodies(t *testing.T) {
	bodies := map[string]string{
		"crlf dot crlf":   "a\r\n.\r\nMAIL FROM:<evil@example.org>\r\n",
		"lf dot lf":       "a\n.\nRCPT TO:<evil@example.org>\n",
		"lf dot crlf":     "a\n.\r\nDATA\r\n",
		"cr dot cr":       "a\r.\rQUIT\r",
		"crlf dot lf":     "a\r\n.\nx",
		"leading dot":     ".\r\nx",
		"only dot":        ".",
		"dot crlf at end": "x\r\n.\r\n",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			conn, wait := startFake(t, func(f *fake) {
				f.greet()
				f.openData()
				got := f.data()
				if i := strings.Index(got, "\r\n.\r\n"); i >= 0 && i != len(got)-5 {
					t.Errorf("end-of-data inside the data at %d: %q", i, got)
				}
				if strings.HasPrefix(got, ".\r\n") {
					t.Errorf("data starts with a lone dot: %q", got)
				}
				f.reply("250 ok")
				f.eof()
			})
			c := NewClient(conn, testOptions(nil))
			if _, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader(body), nil); err != nil {
				t.Fatal(err)
			}
			c.Close()
			wait()
		})
	}
}

// TestTraceRedactsAndSummarises: the transcript has directions and times,
// no message data by default, and redacts every SASL client line.
func TestTraceRedactsAndSummarises(t *testing.T) {
	var trace bytes.Buffer
	conn, wait := startFake(t, func(f *fake) {
		f.greet("AUTH LOGIN")
		f.expect("AUTH LOGIN")
		f.reply("334 VXNlcm5hbWU6")
		f.expect("dXNlcg==")
		f.reply("334 UGFzc3dvcmQ6")
		f.expect("c2VjcmV0")
		f.reply("235 2.7.0 ok")
		f.openData()
		f.data()
		f.reply("250 ok")
	})
	o := testOptions(&trace)
	o.AllowInsecureAuth = true
	c := NewClient(conn, o)
	if err := c.Auth(&loginMech{user: "user", pass: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("Subject: topsecretbody\r\n\r\nx\r\n"), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
	tr := trace.String()
	for _, secret := range []string{"dXNlcg==", "c2VjcmV0", "secret", "topsecretbody"} {
		if strings.Contains(tr, secret) {
			t.Errorf("trace shows %q:\n%s", secret, tr)
		}
	}
	for _, want := range []string{"ms S: 220 mx.example.org ESMTP", "ms C: EHLO client.example", "C: AUTH LOGIN", "C: <redacted>", "S: 334 UGFzc3dvcmQ6", "* authenticated with LOGIN", "C: <message data: 29 octets, 3 lines>", "C: ."} {
		if !strings.Contains(tr, want) {
			t.Errorf("trace lacks %q:\n%s", want, tr)
		}
	}
}

// loginMech is a minimal LOGIN mechanism for driving the AUTH code.
type loginMech struct {
	user, pass string
	step       int
}

func (m *loginMech) Start() (string, []byte, error) { return "LOGIN", nil, nil }
func (m *loginMech) Next(challenge []byte) ([]byte, error) {
	m.step++
	if m.step == 1 {
		return []byte(m.user), nil
	}
	return []byte(m.pass), nil
}

func TestStartTLSUpgradeForgetsExtensions(t *testing.T) {
	ca := tlstest.NewCA()
	cert := ca.ValidLeaf("mx.example.org")
	conn, wait := startFake(t, func(f *fake) {
		f.greet("STARTTLS", "AUTH PLAIN LOGIN", "X-BEFORE-TLS")
		f.expect("STARTTLS")
		f.reply("220 2.0.0 go ahead")
		if !f.startTLS(cert) {
			return
		}
		f.ehlo("AUTH SCRAM-SHA-256 PLAIN", "PIPELINING")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	c := NewClient(conn, testOptions(nil))
	if err := c.StartTLS(&tls.Config{ServerName: "mx.example.org", RootCAs: ca.Pool()}); err != nil {
		t.Fatal(err)
	}
	ext := c.Extensions()
	if ext.Has("X-BEFORE-TLS") || ext.Has(ExtStartTLS) {
		t.Errorf("extensions from before TLS survived: %+v", ext.List)
	}
	if got := strings.Join(ext.AuthMechanisms(), " "); got != "SCRAM-SHA-256 PLAIN" {
		t.Errorf("auth after TLS: %q", got)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("no TLS state")
	}
	c.Quit()
	wait()
}

// TestStartTLSInjection: bytes after the 220 in the same segment are a
// response-injection attempt; the client refuses the upgrade and sends
// nothing more, not even a TLS ClientHello.
func TestStartTLSInjection(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("STARTTLS")
		f.expect("STARTTLS")
		f.write("220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	err := c.StartTLS(&tls.Config{ServerName: "mx.example.org"})
	if !errors.Is(err, ErrTLSInjection) {
		t.Fatalf("got %v, want ErrTLSInjection", err)
	}
	c.Quit()
	wait()
	if c.Auth(&loginMech{}) == nil {
		t.Error("client usable after refused upgrade")
	}
}

// TestStartTLSStripped: a server (or a man in the middle) that hides
// STARTTLS gets nothing but QUIT.
func TestStartTLSStripped(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("AUTH PLAIN", "PIPELINING")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	err := c.StartTLS(&tls.Config{ServerName: "mx.example.org"})
	if !errors.Is(err, ErrStartTLSUnavailable) {
		t.Fatalf("got %v", err)
	}
	if _, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x"), nil); !errors.Is(err, ErrStartTLSUnavailable) {
		t.Errorf("Send after a failed STARTTLS: %v", err)
	}
	c.Quit()
	wait()
}

// TestStartTLSRefused: 454 ends the session; only QUIT follows.
func TestStartTLSRefused(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("STARTTLS", "ENHANCEDSTATUSCODES")
		f.expect("STARTTLS")
		f.reply("454 4.7.0 TLS not available due to temporary reason")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	err := c.StartTLS(&tls.Config{ServerName: "mx.example.org"})
	var e *Error
	if !errors.As(err, &e) || e.Code != 454 || !e.Temporary() || e.Enhanced != "4.7.0" || e.Command != "STARTTLS" {
		t.Fatalf("got %v", err)
	}
	if err := c.Noop(); err == nil {
		t.Error("client usable after a refused STARTTLS")
	}
	c.Quit()
	wait()
}

// TestTLSCertificates: the handshake fails for expired, wrong-name and
// self-signed certificates, and nothing is sent in clear afterwards.
func TestTLSCertificates(t *testing.T) {
	ca := tlstest.NewCA()
	now := time.Now()
	cases := map[string]struct {
		cert tls.Certificate
		ok   bool
	}{
		"valid":       {ca.ValidLeaf("mx.example.org"), true},
		"expired":     {ca.Leaf([]string{"mx.example.org"}, now.Add(-48*time.Hour), now.Add(-time.Hour)), false},
		"wrong name":  {ca.ValidLeaf("other.example.org"), false},
		"self-signed": {tlstest.SelfSigned([]string{"mx.example.org"}, now.Add(-time.Hour), now.Add(time.Hour)), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			conn, wait := startFake(t, func(f *fake) {
				f.greet("STARTTLS")
				f.expect("STARTTLS")
				f.reply("220 go ahead")
				tconn := tls.Server(f.conn, &tls.Config{Certificates: []tls.Certificate{tc.cert}})
				tconn.SetDeadline(time.Now().Add(5 * time.Second))
				herr := tconn.Handshake()
				if tc.ok {
					if herr != nil {
						t.Errorf("server handshake: %v", herr)
					}
					f.conn = tconn
					f.br.Reset(recorder{f, tconn})
					f.ehlo()
					f.expect("QUIT")
					f.reply("221 bye")
					return
				}
				if herr == nil {
					t.Errorf("handshake succeeded with a bad certificate")
				}
				f.eof()
			})
			c := NewClient(conn, testOptions(nil))
			err := c.StartTLS(&tls.Config{ServerName: "mx.example.org", RootCAs: ca.Pool()})
			if tc.ok != (err == nil) {
				t.Fatalf("StartTLS: %v", err)
			}
			if !tc.ok {
				var cv *tls.CertificateVerificationError
				if !errors.As(err, &cv) {
					t.Errorf("error is not a certificate verification error: %v", err)
				}
				var se *StageError
				if !errors.As(err, &se) || se.Stage != StageSTARTTLS {
					t.Errorf("stage: %v", err)
				}
			}
			c.Quit()
			wait()
		})
	}
}

func TestImplicitTLS(t *testing.T) {
	ca := tlstest.NewCA()
	cert := ca.ValidLeaf("mx.example.org")
	conn, wait := startFake(t, func(f *fake) {
		if !f.startTLS(cert) {
			return
		}
		f.greet("AUTH PLAIN")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	c := NewClient(tls.Client(conn, &tls.Config{ServerName: "mx.example.org", RootCAs: ca.Pool()}), testOptions(nil))
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.TLSConnectionState(); !ok {
		t.Error("no TLS state")
	}
	c.Quit()
	wait()
}

// greetCounting greets like greet and returns the client's write count
// taken before the EHLO reply leaves, so no later write can be missed.
func (f *fake) greetCounting(counter *countingConn, ext ...string) int {
	f.reply("220 mx.example.org ESMTP")
	f.expect("EHLO client.example")
	before := counter.Writes()
	lines := []string{"250-mx.example.org"}
	for _, e := range ext {
		lines = append(lines, "250-"+e)
	}
	lines[len(lines)-1] = "250 " + strings.TrimPrefix(lines[len(lines)-1], "250-")
	f.reply(lines...)
	return before
}

// TestORCPTParam: ASCII original recipients are rfc822 xtext (RFC 3461
// §4.2), UTF-8 ones utf-8-addr-xtext (RFC 6533 §3).
func TestORCPTParam(t *testing.T) {
	cases := map[string]string{
		"b+x@example.org":  "rfc822;b+2Bx@example.org",
		"a=b@example.org":  "rfc822;a+3Db@example.org",
		"jörg@example.org": `utf-8;j\x{F6}rg@example.org`,
		"j+ö@example.org":  `utf-8;j\x{2B}\x{F6}@example.org`,
	}
	for in, want := range cases {
		if got := orcptParam(in); got != want {
			t.Errorf("orcptParam(%q) = %q, want %q", in, got, want)
		}
	}
}
