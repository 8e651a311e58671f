package integration

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// throwawayCA writes a new CA certificate that signed nothing the servers
// use, and returns its path.
func throwawayCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"outbox tests"}, CommonName: "throwaway CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- source addresses ---------------------------------------------------------

// Dovecot (2.3) keeps an authentication penalty per client address: after
// a failed login from an address, every login from it, good or bad, waits
// up to 15 seconds, longer than Postfix waits for Dovecot (10 seconds,
// then "454 4.7.0 Temporary authentication failure"). Tests that fail a
// login on purpose therefore connect from an address of their own in
// 127.0.0.0/8, so that the penalty never reaches the other tests.

// newSourceIP returns a random loopback address other than 127.0.0.1.
func newSourceIP(t *testing.T) net.IP {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[0] = 1 + b[0]%254 // 127.1.x.y to 127.254.x.y: never 127.0.0.1
	b[2] = 1 + b[2]%254
	return net.IPv4(127, b[0], b[1], b[2])
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src net.IP, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connecting to %s from %s: %v", addr, src, err)
	}
	return c
}

// forwardFrom listens on 127.0.0.1 and relays every connection to target
// from the source address src, byte for byte (TLS passes through). It
// returns the address to give outbox with -S.
func forwardFrom(t *testing.T, src net.IP, target string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 10 * time.Second}
			out, err := d.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			wg.Add(2)
			pump := func(dst, src net.Conn) {
				defer wg.Done()
				io.Copy(dst, src)
				// Pass the end of one direction on, keep the other open.
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			go pump(out, in)
			go func() {
				pump(in, out)
				in.Close()
				out.Close()
			}()
		}
	}()
	return ln.Addr().String()
}
