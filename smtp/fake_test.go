package smtp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fake is the server side of one scripted SMTP session on a loopback TCP
// connection. Each write call is one write on the socket, so a script
// controls how the server's bytes are split into segments.
type fake struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader

	mu  sync.Mutex
	got bytes.Buffer // every byte the client sent, decrypted
}

// startFake listens on 127.0.0.1:0, runs script for the one connection it
// accepts, and returns the client's side. The returned wait function blocks
// until the script has finished.
func startFake(t *testing.T, script func(f *fake)) (net.Conn, func() *fake) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *fake, 1)
	go func() {
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			done <- nil
			return
		}
		f := &fake{t: t, conn: conn}
		f.br = bufio.NewReader(recorder{f, conn})
		defer func() {
			conn.Close()
			done <- f
		}()
		script(f)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var once sync.Once
	var result *fake
	return c, func() *fake {
		once.Do(func() {
			select {
			case result = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("fake server script did not finish")
			}
		})
		return result
	}
}

type recorder struct {
	f *fake
	r io.Reader
}

func (r recorder) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.f.mu.Lock()
	r.f.got.Write(p[:n])
	r.f.mu.Unlock()
	return n, err
}

// Got returns every byte the client sent.
func (f *fake) Got() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got.String()
}

// write sends raw bytes in one write.
func (f *fake) write(s string) {
	if _, err := io.WriteString(f.conn, s); err != nil {
		f.t.Errorf("fake server write: %v", err)
	}
}

// reply sends reply lines, CRLF-terminated, in one write.
func (f *fake) reply(lines ...string) {
	f.write(strings.Join(lines, "\r\n") + "\r\n")
}

// line reads one CRLF-terminated line from the client.
func (f *fake) line() string {
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	s, err := f.br.ReadString('\n')
	if err != nil {
		f.t.Errorf("fake server: reading a line: %v (got %q)", err, s)
		return ""
	}
	if !strings.HasSuffix(s, "\r\n") {
		f.t.Errorf("fake server: line not CRLF-terminated: %q", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

// expect reads one line and checks it.
func (f *fake) expect(want string) {
	f.t.Helper()
	if got := f.line(); got != want {
		f.t.Errorf("client sent %q, want %q", got, want)
	}
}

// data reads message data up to and including the end-of-data mark and
// returns it with the mark.
func (f *fake) data() string {
	var b strings.Builder
	for {
		f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		s, err := f.br.ReadString('\n')
		b.WriteString(s)
		if err != nil {
			f.t.Errorf("fake server: reading data: %v", err)
			return b.String()
		}
		if s == ".\r\n" {
			return b.String()
		}
	}
}

// bytes reads exactly n bytes.
func (f *fake) bytes(n int) string {
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, n)
	if _, err := io.ReadFull(f.br, buf); err != nil {
		f.t.Errorf("fake server: reading %d bytes: %v", n, err)
	}
	return string(buf)
}

// eof checks that the client sends nothing more and closes the connection:
// "nothing after this point".
func (f *fake) eof() {
	f.t.Helper()
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(f.br)
	if len(rest) > 0 {
		f.t.Errorf("client sent %q after the point where it must stop", rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		f.t.Errorf("client kept the connection open")
	}
}

// hang waits until the client closes the connection, sending nothing.
func (f *fake) hang() {
	f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, f.br)
}

// startTLS completes the server side of a TLS handshake and continues the
// script over it.
func (f *fake) startTLS(cert tls.Certificate) bool {
	tc := tls.Server(f.conn, &tls.Config{Certificates: []tls.Certificate{cert}})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := tc.Handshake(); err != nil {
		f.t.Errorf("fake server: TLS handshake: %v", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	f.conn = tc
	f.br = bufio.NewReader(recorder{f, tc})
	return true
}

// openData accepts MAIL FROM:<a@example.org> and RCPT TO:<b@example.org>
// one at a time, and answers DATA with 354: the opening of most scripted
// transactions without PIPELINING.
func (f *fake) openData() {
	f.t.Helper()
	f.expect("MAIL FROM:<a@example.org>")
	f.reply("250 ok")
	f.expect("RCPT TO:<b@example.org>")
	f.reply("250 ok")
	f.expect("DATA")
	f.reply("354 go")
}

// greet sends a greeting and answers EHLO with the given extensions.
func (f *fake) greet(ext ...string) {
	f.reply("220 mx.example.org ESMTP")
	f.ehlo(ext...)
}

func (f *fake) ehlo(ext ...string) {
	f.expect("EHLO client.example")
	lines := []string{"250-mx.example.org"}
	for _, e := range ext {
		lines = append(lines, "250-"+e)
	}
	lines[len(lines)-1] = "250 " + strings.TrimPrefix(lines[len(lines)-1], "250-")
	f.reply(lines...)
}

// opts returns client options for tests: short timeouts and a trace buffer.
func testOptions(trace io.Writer) *Options {
	return &Options{
		LocalName: "client.example",
		Trace:     trace,
		Timeouts: Timeouts{
			Greeting: 2 * time.Second, Command: 2 * time.Second, Handshake: 2 * time.Second,
			Mail: 2 * time.Second, Rcpt: 2 * time.Second, DataInit: 2 * time.Second,
			DataBlock: 2 * time.Second, DataEnd: 2 * time.Second,
		},
	}
}

func mustAddr(t *testing.T, s string) Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatalf("ParseAddress(%q): %v", s, err)
	}
	return a
}

func envelope(t *testing.T, from string, to ...string) *Envelope {
	env := &Envelope{From: mustAddr(t, from)}
	for _, r := range to {
		env.Recipients = append(env.Recipients, Recipient{Address: mustAddr(t, r)})
	}
	return env
}

// countingConn counts the client's writes on the socket: each is one
// flight of bytes towards the server.
type countingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes++
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *countingConn) Writes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}
