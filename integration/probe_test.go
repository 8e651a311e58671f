package integration

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probeReport is the part of 'outbox probe --json' these tests read.
type probeReport struct {
	OK   bool `json:"ok"`
	EHLO struct {
		BeforeTLS *probeEHLO `json:"before_tls"`
		AfterTLS  *probeEHLO `json:"after_tls"`
	} `json:"ehlo"`
	TLS *struct {
		Established bool   `json:"established"`
		Verified    bool   `json:"verified"`
		Version     string `json:"version"`
	} `json:"tls"`
	Auth *struct {
		BeforeTLS []string `json:"before_tls"`
		AfterTLS  []string `json:"after_tls"`
	} `json:"auth"`
}

type probeEHLO struct {
	Extensions []struct {
		Keyword string   `json:"keyword"`
		Params  []string `json:"params"`
	} `json:"extensions"`
}

func (p *probeEHLO) lines() []string {
	var out []string
	for _, x := range p.Extensions {
		out = append(out, strings.TrimSpace(x.Keyword+" "+strings.Join(x.Params, " ")))
	}
	return out
}

// TestProbe: outbox probe reports exactly the extensions Postfix
// advertises before and after STARTTLS, as read by a plain client written
// here, and those are the ones the test configuration enables.
func TestProbe(t *testing.T) {
	e := need(t)
	for _, port := range []struct {
		name, addr string
		size       int64
	}{
		{"submission", e.Submission, e.SizeLimit},
		{"small", e.Small, e.SmallLimit},
	} {
		t.Run(port.name, func(t *testing.T) {
			r := runOutbox(t, invocation{args: []string{"probe", "--json", "--tls", "starttls", "--tls-ca", e.CA, port.addr}})
			r.wantExit(t, 0)
			var rep probeReport
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("probe --json: %v\n%s", err, r.stdout)
			}
			if !rep.OK || rep.TLS == nil || !rep.TLS.Established || !rep.TLS.Verified || rep.EHLO.BeforeTLS == nil || rep.EHLO.AfterTLS == nil {
				t.Fatalf("probe report: %s", r.stdout)
			}
			before, after := rawEHLO(t, e, port.addr)
			if got := rep.EHLO.BeforeTLS.lines(); !reflect.DeepEqual(got, before) {
				t.Errorf("before TLS: probe reports %q, Postfix says %q", got, before)
			}
			if got := rep.EHLO.AfterTLS.lines(); !reflect.DeepEqual(got, after) {
				t.Errorf("after TLS: probe reports %q, Postfix says %q", got, after)
			}

			// What the configuration enables (scripts/mailserver).
			has := func(lines []string, want string) bool {
				for _, l := range lines {
					if l == want {
						return true
					}
				}
				return false
			}
			for _, want := range []string{"PIPELINING", "SIZE " + strconv.FormatInt(port.size, 10), "8BITMIME", "CHUNKING", "SMTPUTF8", "DSN", "ENHANCEDSTATUSCODES", "AUTH " + strings.Join(e.Mechs, " ")} {
				if !has(after, want) {
					t.Errorf("after TLS Postfix lacks %q: %q", want, after)
				}
			}
			if !has(before, "STARTTLS") || has(after, "STARTTLS") {
				t.Errorf("STARTTLS before %q / after %q", before, after)
			}
			for _, l := range before {
				if strings.HasPrefix(l, "AUTH") {
					t.Errorf("AUTH offered before TLS: %q", before)
				}
			}
			if rep.Auth == nil || len(rep.Auth.BeforeTLS) != 0 || strings.Join(rep.Auth.AfterTLS, " ") != strings.Join(e.Mechs, " ") {
				t.Errorf("probe's AUTH lists: %+v", rep.Auth)
			}
		})
	}
}

// rawEHLO reads Postfix's EHLO reply before and after STARTTLS with nothing
// but the standard library, as the lines after the first one.
func rawEHLO(t *testing.T, e *mailEnv, addr string) (before, after []string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
	reply := func() []string {
		var lines []string
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			l = strings.TrimRight(l, "\r\n")
			lines = append(lines, l[4:])
			if l[3] == ' ' {
				return lines
			}
		}
	}
	reply()
	fmt.Fprintf(conn, "EHLO raw.example.test\r\n")
	before = reply()[1:]
	fmt.Fprintf(conn, "STARTTLS\r\n")
	reply()
	pem, err := os.ReadFile(e.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	host, _, _ := net.SplitHostPort(addr)
	tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	br = bufio.NewReader(tc)
	fmt.Fprintf(tc, "EHLO raw.example.test\r\n")
	after = reply()[1:]
	fmt.Fprintf(tc, "QUIT\r\n")
	return before, after
}
