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

// TestRepliesSplitAcrossSegments: replies arrive a few bytes at a time,
// split inside lines and between the lines of a multi-line reply; the
// client reads them as whole replies and does not mistake a partial
// multi-line reply for the end.
func TestRepliesSplitAcrossSegments(t *testing.T) {
	trickle := func(f *fake, s string) {
		for i := 0; i < len(s); i += 3 {
			f.write(s[i:min(i+3, len(s))])
			time.Sleep(2 * time.Millisecond)
		}
	}
	conn, wait := startFake(t, func(f *fake) {
		trickle(f, "220-mx.example.org\r\n220 ready\r\n")
		f.expect("EHLO client.example")
		trickle(f, "250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 1000\r\n")
		f.expect("MAIL FROM:<a@example.org> SIZE=10")
		f.expect("RCPT TO:<b@example.org>")
		f.expect("DATA")
		trickle(f, "250 ok\r\n250 ok\r\n354 go\r\n")
		f.data()
		trickle(f, "250 queued as S1\r\n")
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.Size = 10
	res, err := c.Send(env, strings.NewReader("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := c.Greeting(); len(g.Lines) != 2 || res.QueueID != "S1" {
		t.Errorf("greeting %+v, result %+v", g, res)
	}
	c.Close()
	wait()
}

// TestDataOpenedWithNoRecipients: a server that answers DATA with 354
// although it refused every recipient gets an empty message (RFC 2920
// §3.1), and the client reports that nothing was delivered.
func TestDataOpenedWithNoRecipients(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("PIPELINING")
		f.expect("MAIL FROM:<a@example.org>")
		f.expect("RCPT TO:<b@example.org>")
		f.expect("DATA")
		f.reply("250 ok", "550 no", "354 go")
		if got := f.data(); got != ".\r\n" {
			t.Errorf("data after no recipients: %q", got)
		}
		f.reply("554 no valid recipients")
	})
	c := NewClient(conn, testOptions(nil))
	_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("secret body"), nil)
	if !errors.Is(err, ErrNoRecipients) {
		t.Fatalf("got %v", err)
	}
	c.Close()
	wait()
}

// TestBinaryMIME: with BINARYMIME the bytes go unchanged through BDAT,
// NUL and bare LF included.
func TestBinaryMIME(t *testing.T) {
	body := "bin\x00ary\nno\rchange"
	conn, wait := startFake(t, func(f *fake) {
		f.greet("CHUNKING", "BINARYMIME", "PIPELINING")
		f.expect("MAIL FROM:<a@example.org> BODY=BINARYMIME")
		f.expect("RCPT TO:<b@example.org>")
		f.expect(fmt.Sprintf("BDAT %d LAST", len(body)))
		if got := f.bytes(len(body)); got != body {
			t.Errorf("chunk %q", got)
		}
		f.reply("250 ok", "250 ok", "250 ok")
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.Body = BodyBinaryMIME
	if _, err := c.Send(env, strings.NewReader(body), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
}

// TestRequireTLS: REQUIRETLS only over TLS and only when offered
// (RFC 8689 §4.1).
func TestRequireTLS(t *testing.T) {
	ca := tlstest.NewCA()
	cert := ca.ValidLeaf("mx.example.org")
	conn, wait := startFake(t, func(f *fake) {
		f.greet("STARTTLS", "REQUIRETLS")
		f.expect("STARTTLS")
		f.reply("220 go")
		if !f.startTLS(cert) {
			return
		}
		f.ehlo("REQUIRETLS")
		f.expect("MAIL FROM:<a@example.org> REQUIRETLS")
		f.reply("250 ok")
		f.expect("RCPT TO:<b@example.org>")
		f.reply("250 ok")
		f.expect("DATA")
		f.reply("354 go")
		f.data()
		f.reply("250 ok")
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.RequireTLS = true
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(env, strings.NewReader("x"), nil); !errors.Is(err, ErrExtensionMissing) {
		t.Fatalf("REQUIRETLS without TLS: %v", err)
	}
	if err := c.StartTLS(tlsClientConfig(ca)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(env, strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
}

// TestTraceData: -vv shows every line of the message data.
func TestTraceData(t *testing.T) {
	var trace bytes.Buffer
	conn, wait := startFake(t, func(f *fake) {
		f.greet()
		f.openData()
		f.data()
		f.reply("250 ok")
	})
	o := testOptions(&trace)
	o.TraceData = true
	c := NewClient(conn, o)
	if _, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("Subject: hi\n\n.dot\n"), nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	wait()
	for _, want := range []string{"C: Subject: hi\n", "C: ..dot\n", "C: .\n"} {
		if !strings.Contains(trace.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, trace.String())
		}
	}
}

// TestSessionDeadline: the overall deadline caps every stage.
func TestSessionDeadline(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) { f.hang() })
	o := testOptions(nil)
	o.Deadline = time.Now().Add(100 * time.Millisecond)
	c := NewClient(conn, o)
	start := time.Now()
	if err := c.Hello(); !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("the 2s greeting timeout won over the 100ms deadline")
	}
	c.Close()
	wait()
}

func tlsClientConfig(ca *tlstest.CA) *tls.Config {
	return &tls.Config{ServerName: "mx.example.org", RootCAs: ca.Pool()}
}
