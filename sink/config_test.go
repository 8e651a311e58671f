package sink

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
)

func TestParseRule(t *testing.T) {
	for _, tt := range []struct {
		in      string
		pattern string
		code    int
		enh     [3]int
		msg     string
	}{
		{`^bob@=550`, `^bob@`, 550, [3]int{}, ""},
		{`^bob@=550 5.1.1`, `^bob@`, 550, [3]int{5, 1, 1}, ""},
		{`^bob@=550 5.1.1 no such user`, `^bob@`, 550, [3]int{5, 1, 1}, "no such user"},
		{`full@=452 mailbox full`, `full@`, 452, [3]int{}, "mailbox full"},
		// The split is at the last "=CODE": the pattern may contain "=".
		{`a=b@x=451 4.3.0 try=later`, `a=b@x`, 451, [3]int{4, 3, 0}, "try=later"},
		{`x{1,3}@=554`, `x{1,3}@`, 554, [3]int{}, ""},
	} {
		r, err := ParseRule(tt.in)
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if r.Pattern.String() != tt.pattern || r.Code != tt.code || r.Enhanced != tt.enh || r.Message != tt.msg {
			t.Errorf("%s: got %q %d %v %q", tt.in, r.Pattern, r.Code, r.Enhanced, r.Message)
		}
		if back, err := ParseRule(r.String()); err != nil || back.String() != r.String() {
			t.Errorf("%s: String %q does not parse back: %v", tt.in, r.String(), err)
		}
	}
	for _, bad := range []string{"", "bob", "bob=250", "bob=55", "(=550", "bob=550 4.1.1 wrong class"} {
		if _, err := ParseRule(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseTLSMode(t *testing.T) {
	for _, m := range []TLSMode{TLSNone, TLSStartTLS, TLSImplicit} {
		got, err := ParseTLSMode(m.String())
		if err != nil || got != m {
			t.Errorf("%v: %v %v", m, got, err)
		}
	}
	if _, err := ParseTLSMode("tls"); err == nil {
		t.Error("tls: no error")
	}
}

func TestGenerateCertificate(t *testing.T) {
	cert, caPEM, err := GenerateCertificate(certHosts("mail.test", "192.0.2.1:25"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"mail.test", "localhost", "127.0.0.1", "::1", "192.0.2.1"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "example.org"}); err == nil {
		t.Error("certificate valid for example.org")
	}
	if ips := cert.Leaf.IPAddresses; !net.IP.Equal(ips[0], net.ParseIP("192.0.2.1")) {
		t.Errorf("IP addresses %v", ips)
	}
}
