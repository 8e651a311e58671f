package sink

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"
)

// startServer starts a server on 127.0.0.1:0 and shuts it down at the end
// of the test.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.Logf == nil {
		cfg.Logf = t.Logf
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := s.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil && err != ErrServerClosed {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, addr.String()
}

// clientTLS trusts the server's CA.
func clientTLS(t *testing.T, s *Server) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CACertPEM()) {
		t.Fatal("no CA certificate in PEM")
	}
	return &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// wire is a client side of a raw SMTP conversation, for transcript tests.
type wire struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &wire{t: t, conn: c, r: bufio.NewReader(c)}
}

// send writes lines, each ending in CRLF, in one write: a pipelined batch
// when there are several.
func (w *wire) send(lines ...string) {
	w.t.Helper()
	if _, err := w.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		w.t.Fatal(err)
	}
}

// raw writes b as it is.
func (w *wire) raw(b string) {
	w.t.Helper()
	if _, err := w.conn.Write([]byte(b)); err != nil {
		w.t.Fatal(err)
	}
}

// reply reads one reply, multi-line or not, and returns its lines joined
// with "\n".
func (w *wire) reply() string {
	w.t.Helper()
	var lines []string
	for {
		line, err := w.r.ReadString('\n')
		if err != nil {
			w.t.Fatalf("reading reply after %q: %v", lines, err)
		}
		if !strings.HasSuffix(line, "\r\n") {
			w.t.Fatalf("reply line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return strings.Join(lines, "\n")
		}
	}
}

// expect reads one reply and checks that it starts with prefix.
func (w *wire) expect(prefix string) string {
	w.t.Helper()
	got := w.reply()
	if !strings.HasPrefix(got, prefix) {
		w.t.Fatalf("reply %q, want it to start with %q", got, prefix)
	}
	return got
}

// startTLS upgrades the connection after a 220 reply to STARTTLS.
func (w *wire) startTLS(cfg *tls.Config) {
	w.t.Helper()
	tc := tls.Client(w.conn, cfg)
	if err := tc.Handshake(); err != nil {
		w.t.Fatal(err)
	}
	w.conn = tc
	w.r = bufio.NewReader(tc)
}

// dotStuff adds the dot RFC 5321 §4.5.2 puts before a line that starts
// with one.
func dotStuff(s string) string {
	s = strings.ReplaceAll(s, "\n.", "\n..")
	if strings.HasPrefix(s, ".") {
		s = "." + s
	}
	return s
}
