package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// runDiscard is a minimal SMTP server that accepts every command and throws
// the message data away, as fast as it can read it. It is the sink of the
// throughput, TLS and round-trip measurements: one sink for every client.
func runDiscard(args []string) error {
	fs := flag.NewFlagSet("discard", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen on `ADDR` (loopback only)")
	addrFile := fs.String("addr-file", "", "write the address listened on to `FILE`")
	mode := fs.String("tls", "none", "TLS `MODE`: none, starttls or implicit")
	caOut := fs.String("write-ca", "", "write the CA certificate to `FILE` (TLS modes)")
	chunking := fs.Bool("chunking", true, "advertise CHUNKING (BDAT)")
	auth := fs.Bool("auth", false, "advertise AUTH PLAIN LOGIN (after TLS when TLS is on) and accept any credentials")
	fs.Parse(args)

	var cfg *tls.Config
	if *mode != "none" {
		c, caPEM, err := selfSigned()
		if err != nil {
			return err
		}
		cfg = c
		if *caOut != "" {
			if err := os.WriteFile(*caOut, caPEM, 0o644); err != nil {
				return err
			}
		}
	}
	if err := loopbackOnly(*listen); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, ln.Addr().String()+"\n"); err != nil {
			return err
		}
	}
	var id atomic.Int64
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		s := &session{conn: conn, mode: *mode, cfg: cfg, chunking: *chunking, auth: *auth, id: &id}
		go s.serve()
	}
}

type session struct {
	conn     net.Conn
	mode     string
	cfg      *tls.Config
	chunking bool
	auth     bool
	id       *atomic.Int64
	br       *bufio.Reader
	bw       *bufio.Writer
	secure   bool
	buf      []byte
}

const discardBuf = 256 << 10

func (s *session) serve() {
	defer s.conn.Close()
	var c net.Conn = s.conn
	if s.mode == "implicit" {
		tc := tls.Server(c, s.cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		c, s.secure = tc, true
	}
	s.br = bufio.NewReaderSize(c, discardBuf)
	s.bw = bufio.NewWriterSize(c, 4096)
	s.reply("220 localhost ESMTP discard")
	for {
		if s.br.Buffered() == 0 {
			if s.bw.Flush() != nil {
				return
			}
		}
		line, err := s.br.ReadSlice('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(string(line), "\r\n")
		verb, arg, _ := strings.Cut(cmd, " ")
		switch strings.ToUpper(verb) {
		case "EHLO", "LHLO":
			s.ehlo()
		case "HELO":
			s.reply("250 localhost")
		case "MAIL":
			s.reply("250 2.1.0 Ok")
		case "RCPT":
			s.reply("250 2.1.5 Ok")
		case "DATA":
			s.reply("354 End data with <CR><LF>.<CR><LF>")
			if s.bw.Flush() != nil || !s.readData() {
				return
			}
			s.queued()
		case "BDAT":
			f := strings.Fields(arg)
			var n int64 = -1
			if len(f) > 0 {
				n, _ = strconv.ParseInt(f[0], 10, 64)
			}
			if n < 0 {
				s.reply("501 5.5.4 Syntax: BDAT size [LAST]")
				continue
			}
			if !s.discardN(n) {
				return
			}
			if len(f) > 1 && strings.EqualFold(f[1], "LAST") {
				s.queued()
			} else {
				s.reply("250 2.0.0 " + strconv.FormatInt(n, 10) + " octets received")
			}
		case "STARTTLS":
			if s.mode != "starttls" || s.secure {
				s.reply("503 5.5.1 TLS already active")
				continue
			}
			s.reply("220 2.0.0 Ready to start TLS")
			if s.bw.Flush() != nil || s.br.Buffered() > 0 {
				return // data pipelined after STARTTLS: refuse (RFC 3207 §4.2)
			}
			tc := tls.Server(s.conn, s.cfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			s.secure = true
			s.br = bufio.NewReaderSize(tc, discardBuf)
			s.bw = bufio.NewWriterSize(tc, 4096)
		case "AUTH":
			if !s.authenticate(arg) {
				return
			}
		case "RSET", "NOOP":
			s.reply("250 2.0.0 Ok")
		case "QUIT":
			s.reply("221 2.0.0 Bye")
			s.bw.Flush()
			return
		default:
			s.reply("502 5.5.2 Error: command not recognized")
		}
	}
}

func (s *session) reply(line string) {
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
}

func (s *session) queued() {
	s.reply(fmt.Sprintf("250 2.0.0 Ok: queued as D%d", s.id.Add(1)))
}

func (s *session) ehlo() {
	ext := []string{"localhost", "PIPELINING", "SIZE 0", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"}
	if s.chunking {
		ext = append(ext, "CHUNKING")
	}
	if s.mode == "starttls" && !s.secure {
		ext = append(ext, "STARTTLS")
	}
	if s.auth && (s.secure || s.mode == "none") {
		ext = append(ext, "AUTH PLAIN LOGIN")
	}
	for i, e := range ext {
		sep := "-"
		if i == len(ext)-1 {
			sep = " "
		}
		s.reply("250" + sep + e)
	}
}

// authenticate accepts AUTH PLAIN (with or without an initial response)
// and AUTH LOGIN with any credentials.
func (s *session) authenticate(arg string) bool {
	next := func(prompt string) bool {
		s.reply("334 " + prompt)
		if s.bw.Flush() != nil {
			return false
		}
		_, err := s.br.ReadSlice('\n')
		return err == nil
	}
	f := strings.Fields(arg)
	if len(f) == 0 {
		s.reply("501 5.5.4 Syntax: AUTH mechanism")
		return true
	}
	switch strings.ToUpper(f[0]) {
	case "PLAIN":
		if len(f) < 2 && !next("") {
			return false
		}
	case "LOGIN":
		if len(f) < 2 && !next("VXNlcm5hbWU6") {
			return false
		}
		if !next("UGFzc3dvcmQ6") {
			return false
		}
	default:
		s.reply("504 5.5.4 Unrecognized authentication type")
		return true
	}
	s.reply("235 2.7.0 Authentication successful")
	return true
}

// discardN reads and drops n octets.
func (s *session) discardN(n int64) bool {
	if s.buf == nil {
		s.buf = make([]byte, discardBuf)
	}
	for n > 0 {
		b := s.buf
		if int64(len(b)) > n {
			b = b[:n]
		}
		k, err := s.br.Read(b)
		n -= int64(k)
		if err != nil && n > 0 {
			return false
		}
	}
	return true
}

// readData discards dot-terminated data up to the line ".".
func (s *session) readData() bool {
	start := true
	for {
		line, err := s.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return false
		}
		if start && len(line) == 3 && line[0] == '.' && line[1] == '\r' && line[2] == '\n' {
			return true
		}
		start = err == nil
	}
}

// selfSigned makes a CA and a server certificate for localhost and
// 127.0.0.1 signed by it.
func selfSigned() (*tls.Config, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "benchtool test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, caPEM, nil
}

// loopbackOnly refuses an address that is not on 127.0.0.0/8.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: only loopback addresses are allowed", addr)
	}
	return nil
}

func writeFileAtomic(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
