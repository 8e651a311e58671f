package smtp

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestBadReplies: malformed, inconsistent or oversized replies are protocol
// errors that break the client; nothing but (where in sync) QUIT follows.
func TestBadReplies(t *testing.T) {
	cases := []struct {
		name  string
		reply string
		want  error
	}{
		{"mixed codes", "250-mx.example.org\r\n251 PIPELINING\r\n", ErrProtocol},
		{"bad code", "2x0 hello\r\n", ErrProtocol},
		{"first digit 6", "650 hello\r\n", ErrProtocol},
		{"no separator", "250hello\r\n", ErrProtocol},
		{"bare LF", "250 hello\n", ErrProtocol},
		{"NUL", "250 hel\x00lo\r\n", ErrProtocol},
		{"ESC", "250 \x1b[31mred\r\n", ErrProtocol},
		{"too long line", "250 " + strings.Repeat("a", 5000) + "\r\n", ErrReplyTooLong},
		{"too many lines", strings.Repeat("250-x\r\n", 300) + "250 x\r\n", ErrReplyTooLong},
		{"too many bytes", strings.Repeat("250-"+strings.Repeat("y", 1000)+"\r\n", 100) + "250 x\r\n", ErrReplyTooLong},
		{"unexpected code", "354 go ahead\r\n", ErrProtocol},
		{"closed mid-line", "250 hel", ErrProtocol},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, wait := startFake(t, func(f *fake) {
				f.reply("220 mx.example.org")
				f.expect("EHLO client.example")
				f.write(tc.reply)
				if tc.name == "closed mid-line" {
					return
				}
				f.hang()
			})
			c := NewClient(conn, testOptions(nil))
			err := c.Hello()
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var se *StageError
			if !errors.As(err, &se) || se.Stage != StageEHLO {
				t.Errorf("stage: %v", err)
			}
			if err2 := c.Noop(); err2 == nil {
				t.Error("client still usable")
			}
			c.Quit()
			wait()
		})
	}
}

// TestUnexpectedCodeIsNotSuccess: a well-formed but wrong code for the
// command (250 to DATA) is an error, never success.
func TestUnexpectedCodeIsNotSuccess(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet()
		f.expect("MAIL FROM:<a@example.org>")
		f.reply("250 ok")
		f.expect("RCPT TO:<b@example.org>")
		f.reply("250 ok")
		f.expect("DATA")
		f.reply("250 ok, go on")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x\r\n"), nil)
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

// Test421Anywhere: a 421 at any stage is a temporary error that breaks the
// session: the client sends nothing more.
func Test421Anywhere(t *testing.T) {
	stages := []string{"greeting", "EHLO", "MAIL", "RCPT", "DATA", "end"}
	for i, stage := range stages {
		t.Run(stage, func(t *testing.T) {
			conn, wait := startFake(t, func(f *fake) {
				steps := []func() bool{
					func() bool { f.reply("220 mx.example.org"); return true },
					func() bool {
						f.expect("EHLO client.example")
						f.reply("250 mx.example.org")
						return true
					},
					func() bool { f.expect("MAIL FROM:<a@example.org>"); f.reply("250 ok"); return true },
					func() bool { f.expect("RCPT TO:<b@example.org>"); f.reply("250 ok"); return true },
					func() bool { f.expect("DATA"); f.reply("354 go"); return true },
					func() bool { f.data(); f.reply("250 ok"); return true },
				}
				for j := 0; j < i; j++ {
					steps[j]()
				}
				switch stage {
				case "greeting":
				case "EHLO":
					f.line()
				case "MAIL", "RCPT", "DATA":
					f.line()
				case "end":
					f.data()
				}
				f.reply("421 4.3.2 shutting down")
				f.eof()
			})
			c := NewClient(conn, testOptions(nil))
			_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x\r\n"), nil)
			var e *Error
			if !errors.As(err, &e) || e.Code != 421 || !e.Temporary() {
				t.Fatalf("got %v", err)
			}
			c.Quit()
			wait()
		})
	}
}

func TestGreeting554(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.reply("554 5.7.1 no service for you")
		f.expect("QUIT")
		f.reply("221 bye")
	})
	c := NewClient(conn, testOptions(nil))
	err := c.Hello()
	var e *Error
	if !errors.As(err, &e) || e.Code != 554 || e.Command != "greeting" {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

// TestUnsolicitedData: bytes the server sends before being asked are
// refused before the next command.
func TestUnsolicitedData(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.expectEHLOAndExtra()
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let the extra reply arrive
	err := c.Noop()
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

func (f *fake) expectEHLOAndExtra() {
	f.reply("220 mx.example.org")
	f.expect("EHLO client.example")
	f.write("250 mx.example.org\r\n250 surprise\r\n")
}

func TestHELOFallbackOnlyWhenAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		conn, wait := startFake(t, func(f *fake) {
			f.reply("220 old.example.org")
			f.expect("EHLO client.example")
			f.reply("502 command not implemented")
			if allow {
				f.expect("HELO client.example")
				f.reply("250 old.example.org")
			}
			f.expect("QUIT")
			f.reply("221 bye")
		})
		o := testOptions(nil)
		o.AllowHELO = allow
		c := NewClient(conn, o)
		err := c.Hello()
		if allow && err != nil || !allow && err == nil {
			t.Errorf("allow=%v: %v", allow, err)
		}
		c.Quit()
		wait()
	}
}

func TestPartialRecipients(t *testing.T) {
	t.Run("continue", func(t *testing.T) {
		conn, wait := startFake(t, func(f *fake) {
			f.greet("ENHANCEDSTATUSCODES")
			f.expect("MAIL FROM:<a@example.org>")
			f.reply("250 2.1.0 ok")
			f.expect("RCPT TO:<b@example.org>")
			f.reply("550 5.1.1 <b@example.org>: user unknown")
			f.expect("RCPT TO:<c@example.org>")
			f.reply("450 4.2.0 mailbox busy")
			f.expect("RCPT TO:<d@example.org>")
			f.reply("250 2.1.5 ok")
			f.expect("DATA")
			f.reply("354 go")
			f.data()
			f.reply("250 2.0.0 ok")
		})
		c := NewClient(conn, testOptions(nil))
		res, err := c.Send(envelope(t, "a@example.org", "b@example.org", "c@example.org", "d@example.org"), strings.NewReader("x"), nil)
		if err != nil {
			t.Fatal(err)
		}
		var e *Error
		if !errors.As(res.Recipients[0].Err, &e) || e.Code != 550 || e.Enhanced != "5.1.1" || e.Command != "RCPT TO:<b@example.org>" {
			t.Errorf("b: %v", res.Recipients[0].Err)
		}
		if !errors.As(res.Recipients[1].Err, &e) || !e.Temporary() {
			t.Errorf("c: %v", res.Recipients[1].Err)
		}
		if !res.Recipients[2].Accepted() || res.Accepted() != 1 {
			t.Errorf("d: %+v", res.Recipients[2])
		}
		wait()
	})
	t.Run("abort", func(t *testing.T) {
		conn, wait := startFake(t, func(f *fake) {
			f.greet("PIPELINING", "CHUNKING")
			f.expect("MAIL FROM:<a@example.org>")
			f.expect("RCPT TO:<b@example.org>")
			f.expect("RCPT TO:<c@example.org>")
			f.reply("250 ok", "550 no", "250 ok")
			f.expect("RSET")
			f.reply("250 ok")
			f.expect("QUIT")
			f.reply("221 bye")
			f.eof()
		})
		c := NewClient(conn, testOptions(nil))
		_, err := c.Send(envelope(t, "a@example.org", "b@example.org", "c@example.org"), strings.NewReader("x"), &SendOptions{Partial: PartialAbort})
		var e *Error
		if !errors.Is(err, ErrPartialAbort) || !errors.As(err, &e) || e.Code != 550 {
			t.Fatalf("got %v", err)
		}
		c.Quit()
		wait()
	})
	t.Run("none accepted", func(t *testing.T) {
		conn, wait := startFake(t, func(f *fake) {
			f.greet("PIPELINING")
			f.expect("MAIL FROM:<a@example.org>")
			f.expect("RCPT TO:<b@example.org>")
			f.expect("DATA")
			f.reply("250 ok", "550 5.1.1 unknown", "554 no valid recipients")
			f.expect("QUIT")
			f.reply("221 bye")
			f.eof()
		})
		c := NewClient(conn, testOptions(nil))
		_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x"), nil)
		var e *Error
		if !errors.Is(err, ErrNoRecipients) || !errors.As(err, &e) || e.Code != 550 {
			t.Fatalf("got %v", err)
		}
		if want := "rcpt: no recipient accepted: RCPT TO:<b@example.org> rejected: 550 5.1.1 unknown"; err.Error() != want {
			t.Errorf("error text %q, want %q", err.Error(), want)
		}
		c.Quit()
		wait()
	})
}

// TestSizeLimit: a message over the advertised SIZE is refused before
// MAIL; nothing of it is uploaded.
func TestSizeLimit(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("SIZE 1000")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.Size = 1001
	_, err := c.Send(env, strings.NewReader("x"), nil)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

// Test8BitWithout8BITMIME: the transaction is abandoned without the final
// dot, so the server can never deliver a truncated message.
func Test8BitWithout8BITMIME(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet()
		f.openData()
		f.hang()
		if got := f.Got(); strings.Contains(got, "\r\n.\r\n") {
			t.Errorf("client ended the data: %q", got)
		}
	})
	c := NewClient(conn, testOptions(nil))
	_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("Subject: x\r\n\r\ncaf\xc3\xa9\r\n"), nil)
	if !errors.Is(err, ErrBadMessage) {
		t.Fatalf("got %v", err)
	}
	wait()
}

func Test8BitDeclared(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet()
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "a@example.org", "b@example.org")
	env.Body = Body8BitMIME
	_, err := c.Send(env, strings.NewReader("x"), nil)
	if !errors.Is(err, ErrExtensionMissing) {
		t.Fatalf("got %v", err)
	}
	c.Quit()
	wait()
}

// TestUTF8WithoutSMTPUTF8: a UTF-8 local part needs SMTPUTF8; a UTF-8
// domain alone goes as its A-label.
func TestUTF8WithoutSMTPUTF8(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("8BITMIME")
		f.expect("MAIL FROM:<a@xn--bcher-kva.example> BODY=8BITMIME")
		f.reply("250 ok")
		f.expect("RCPT TO:<b@example.org>")
		f.reply("250 ok")
		f.expect("DATA")
		f.reply("354 go")
		f.data()
		f.reply("250 ok")
		f.expect("QUIT")
		f.reply("221 bye")
		f.eof()
	})
	c := NewClient(conn, testOptions(nil))
	_, err := c.Send(envelope(t, "jürgen@example.org", "b@example.org"), strings.NewReader("x"), nil)
	if !errors.Is(err, ErrExtensionMissing) {
		t.Fatalf("UTF-8 local part: %v", err)
	}
	if _, err := c.Send(envelope(t, "a@bücher.example", "b@example.org"), strings.NewReader("x"), nil); err != nil {
		t.Fatalf("UTF-8 domain: %v", err)
	}
	c.Quit()
	wait()
}

func TestSMTPUTF8AndDSNParameters(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("SMTPUTF8", "8BITMIME", "DSN")
		f.expect("MAIL FROM:<jürgen@example.org> BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2Bx+3D1")
		f.reply("250 ok")
		f.expect("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+2Bx@example.org")
		f.reply("250 ok")
		f.expect("DATA")
		f.reply("354 go")
		f.data()
		f.reply("250 ok")
	})
	c := NewClient(conn, testOptions(nil))
	env := envelope(t, "jürgen@example.org")
	env.Return = "hdrs"
	env.EnvID = "id+x=1"
	env.Recipients = []Recipient{{Address: mustAddr(t, "b@example.org"), Notify: []string{"success", "failure"}, ORCPT: "b+x@example.org"}}
	if _, err := c.Send(env, strings.NewReader("x"), nil); err != nil {
		t.Fatal(err)
	}
	wait()
}

// TestConnectionLostInData: a connection that breaks before the final dot
// is an ordinary temporary failure: nothing was delivered.
func TestConnectionLostInData(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet()
		f.openData()
		f.bytes(1000)
		f.conn.(*net.TCPConn).SetLinger(0)
	})
	c := NewClient(conn, testOptions(nil))
	_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), io.LimitReader(infiniteText{}, 64<<20), nil)
	if err == nil || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("got %v, want a connection error that is not 'outcome unknown'", err)
	}
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StageData {
		t.Errorf("stage: %v", err)
	}
	wait()
}

// TestOutcomeUnknown: the connection dies after the final dot and before
// the reply.
func TestOutcomeUnknown(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		conn, wait := startFake(t, func(f *fake) {
			if chunking {
				f.greet("CHUNKING", "PIPELINING")
				f.line()
				f.line()
				f.line()
				f.bytes(3)
			} else {
				f.greet()
				f.openData()
				f.data()
			}
		})
		c := NewClient(conn, testOptions(nil))
		_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x"), nil)
		if !errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("chunking=%v: got %v", chunking, err)
		}
		wait()
	}
}

// TestQuitFailureAfterSuccess: once the message is accepted, a failing
// QUIT changes nothing.
func TestQuitFailureAfterSuccess(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.greet("PIPELINING", "CHUNKING")
		f.line()
		f.line()
		f.line()
		f.bytes(3)
		f.expect("QUIT")
		f.reply("250 ok", "250 ok", "250 queued as Q1")
		// No reply to QUIT: the connection just drops.
	})
	c := NewClient(conn, testOptions(nil))
	res, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x"), &SendOptions{Quit: true})
	if err != nil || res.QueueID != "Q1" {
		t.Fatalf("got %v, %+v", err, res)
	}
	wait()
}

// TestHungServer: a server that stops answering at any stage is a timeout
// in that stage, not a hang.
func TestHungServer(t *testing.T) {
	stages := []struct {
		name  string
		stage Stage
		steps int
	}{
		{"greeting", StageGreeting, 0},
		{"ehlo", StageEHLO, 1},
		{"mail", StageMail, 2},
		{"rcpt", StageRcpt, 3},
		{"data", StageData, 4},
		{"end", StageDataEnd, 5},
	}
	for _, st := range stages {
		t.Run(st.name, func(t *testing.T) {
			conn, wait := startFake(t, func(f *fake) {
				steps := []func(){
					func() { f.reply("220 mx.example.org") },
					func() { f.expect("EHLO client.example"); f.reply("250 mx.example.org") },
					func() { f.expect("MAIL FROM:<a@example.org>"); f.reply("250 ok") },
					func() { f.expect("RCPT TO:<b@example.org>"); f.reply("250 ok") },
					func() { f.expect("DATA"); f.reply("354 go") },
				}
				for i := 0; i < st.steps && i < len(steps); i++ {
					steps[i]()
				}
				f.hang()
			})
			o := testOptions(nil)
			short := 150 * time.Millisecond
			o.Timeouts = Timeouts{Greeting: short, Command: short, Mail: short, Rcpt: short, DataInit: short, DataBlock: short, DataEnd: short}
			c := NewClient(conn, o)
			start := time.Now()
			_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), strings.NewReader("x"), nil)
			if !errors.Is(err, ErrTimeout) && !(st.stage == StageDataEnd && errors.Is(err, ErrOutcomeUnknown)) {
				t.Fatalf("got %v", err)
			}
			var se *StageError
			if !errors.As(err, &se) || se.Stage != st.stage {
				t.Errorf("stage: %v", err)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			c.Quit()
			wait()
		})
	}
}

// TestWriteBlockedDuringData: a server that stops reading in the middle of
// the data cannot hang the client: the write deadline ends it.
func TestWriteBlockedDuringData(t *testing.T) {
	for _, chunking := range []bool{false, true} {
		clientDone := make(chan struct{})
		conn, wait := startFake(t, func(f *fake) {
			// Small buffers fill fast, whatever the machine's speed.
			f.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
			if chunking {
				f.greet("CHUNKING")
			} else {
				f.greet()
			}
			f.expect("MAIL FROM:<a@example.org>")
			f.reply("250 ok")
			f.expect("RCPT TO:<b@example.org>")
			f.reply("250 ok")
			if !chunking {
				f.expect("DATA")
				f.reply("354 go")
			}
			// Stop reading until the client has given up.
			select {
			case <-clientDone:
			case <-time.After(20 * time.Second):
				t.Error("client still writing after 20s")
			}
		})
		conn.(*net.TCPConn).SetWriteBuffer(16 << 10)
		o := testOptions(nil)
		o.Timeouts.DataBlock = 200 * time.Millisecond
		c := NewClient(conn, o)
		_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), io.LimitReader(infiniteText{}, 1<<30), nil)
		close(clientDone)
		if !errors.Is(err, ErrTimeout) {
			t.Fatalf("chunking=%v: got %v", chunking, err)
		}
		if errors.Is(err, ErrOutcomeUnknown) {
			t.Errorf("chunking=%v: the end of data was never sent, yet: %v", chunking, err)
		}
		wait()
	}
}

// infiniteText is an endless stream of 78-octet text lines.
type infiniteText struct{}

func (infiniteText) Read(p []byte) (int, error) {
	const line = "The quick brown fox jumps over the lazy dog, again and again and again, yes.\r\n"
	n := 0
	for n < len(p) {
		n += copy(p[n:], line[n%len(line):])
	}
	return n, nil
}

func TestLMTPPerRecipient(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.reply("220 lmtp.example.org LMTP")
		f.expect("LHLO client.example")
		f.reply("250-lmtp.example.org", "250-PIPELINING", "250 ENHANCEDSTATUSCODES")
		f.expect("MAIL FROM:<a@example.org>")
		f.expect("RCPT TO:<b@example.org>")
		f.expect("RCPT TO:<c@example.org>")
		f.expect("RCPT TO:<d@example.org>")
		f.expect("DATA")
		f.reply("250 2.1.0 ok", "250 2.1.5 ok", "550 5.1.1 unknown", "250 2.1.5 ok", "354 go")
		f.data()
		f.reply("250 2.0.0 <b@example.org> Kf3aB Saved", "452 4.2.2 <d@example.org> quota exceeded")
	})
	o := testOptions(nil)
	o.LMTP = true
	c := NewClient(conn, o)
	res, err := c.Send(envelope(t, "a@example.org", "b@example.org", "c@example.org", "d@example.org"), strings.NewReader("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Recipients[0].Accepted() || res.QueueID != "Kf3aB" {
		t.Errorf("b: %+v, queue id %q", res.Recipients[0], res.QueueID)
	}
	var e *Error
	if !errors.As(res.Recipients[1].Err, &e) || e.Code != 550 {
		t.Errorf("c: %v", res.Recipients[1].Err)
	}
	if !errors.As(res.Recipients[2].Err, &e) || e.Code != 452 || !e.Temporary() {
		t.Errorf("d: %v", res.Recipients[2].Err)
	}
	wait()
}

// TestCommandInjection: no argument can smuggle CR or LF into a command.
func TestCommandInjection(t *testing.T) {
	conn, wait := startFake(t, func(f *fake) {
		f.reply("220 mx.example.org")
		f.eof()
	})
	o := testOptions(nil)
	o.LocalName = "client.example\r\nMAIL FROM:<evil@example.org>"
	c := NewClient(conn, o)
	if err := c.Hello(); !errors.Is(err, ErrBadInput) {
		t.Fatalf("got %v", err)
	}
	c.Close()
	wait()
	if _, err := ParseAddress("a@example.org>\r\nRCPT TO:<x@y.z"); err == nil {
		t.Error("address with CRLF accepted")
	}
}

// TestWriteBlockedWhilePipelining: with PIPELINING and CHUNKING the
// writer's deadline ends the session even though the reader is waiting for
// a reply with a much longer timeout: a broken write closes the connection.
func TestWriteBlockedWhilePipelining(t *testing.T) {
	clientDone := make(chan struct{})
	conn, wait := startFake(t, func(f *fake) {
		f.conn.(*net.TCPConn).SetReadBuffer(16 << 10)
		f.greet("CHUNKING", "PIPELINING")
		select {
		case <-clientDone:
		case <-time.After(15 * time.Second):
			t.Error("client still waiting after 15s")
		}
	})
	conn.(*net.TCPConn).SetWriteBuffer(16 << 10)
	o := testOptions(nil)
	o.Timeouts.Mail = time.Minute
	o.Timeouts.DataBlock = 200 * time.Millisecond
	c := NewClient(conn, o)
	_, err := c.Send(envelope(t, "a@example.org", "b@example.org"), io.LimitReader(infiniteText{}, 1<<30), nil)
	close(clientDone)
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrOutcomeUnknown) {
		t.Fatalf("got %v", err)
	}
	wait()
}
