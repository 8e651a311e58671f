// Package sinktest gives testscript scripts an in-process capture SMTP
// server, and an independent client to feed it.
//
// Register [Commands] in testscript.Params.Cmds. A script then reads:
//
//	sink start -auth demo:secret
//	deliver -auth demo:secret msg.eml   # or a client given $SINK_ADDR and --tls-ca $SINK_CA
//	sink wait 1
//	sink msg 1 got.eml
//	cmp got.eml msg.eml
//	sink envelope 1
//	stdout '^to bob@example.org$'
//
// The commands:
//
//	sink start [flags]   start a sink on 127.0.0.1:0 and set SINK_ADDR
//	                     (host:port), SINK_HOST, SINK_PORT and, with TLS,
//	                     SINK_CA (a PEM file in $WORK to pass to --tls-ca);
//	                     it stops when the script ends. Flags:
//	                       -tls starttls|implicit|none (default starttls)
//	                       -auth USER:PASSWORD   require AUTH with these
//	                       -any-auth             require AUTH, accept anything
//	                       -insecure-auth        offer AUTH without TLS
//	                       -reject-rcpt RULE     REGEX=CODE[ X.Y.Z][ TEXT], repeatable
//	                       -tempfail-rate F      refuse F of the messages with 451
//	                       -seed N               for -tempfail-rate (default 1)
//	                       -delay D              wait D before each reply
//	                       -max-size N           SIZE limit in bytes
//	                       -count N              refuse messages after N
//	                       -maildir DIR          Maildir (default $WORK/maildir)
//	                       -mbox FILE            mbox file instead of a Maildir
//	                       -hostname NAME        greeting and certificate name
//	                       -lmtp                 speak LMTP
//	sink wait N          wait up to 10 s until N messages arrived
//	sink count N         check that exactly N messages arrived so far
//	sink msg I FILE      write message I's data (from 1), exactly as
//	                     received and without envelope lines, to FILE
//	sink envelope I      print message I's envelope to stdout, one item a
//	                     line: "from ADDR", "to ADDR" for each recipient,
//	                     then "tls yes|no", "auth USER", "helo NAME",
//	                     "size N", "body TYPE", "smtputf8", "ret R",
//	                     "envid ID", "notify ADDR LIST", "orcpt ADDR TYPE;ADDR"
//	                     when present
//	sink path I          print the file message I was stored in
//	sink stored I FILE   copy that file, envelope lines and all, to FILE
//	sink maildir DIR N [FILE]
//	                     check that the Maildir DIR holds exactly N messages
//	                     in new/ and none in tmp/; with FILE, copy the
//	                     latest one to FILE (needs no running sink, so it
//	                     also reads the Maildir of an outbox sink process)
//	sink stop            shut the sink down now
//	sink attach ADDRFILE wait up to 10 s for the --addr-file of an outbox
//	                     sink process and set SINK_ADDR, SINK_HOST and
//	                     SINK_PORT from it
//
//	deliver [flags] FILE send FILE as a message with an independent client
//	                     (github.com/emersion/go-smtp). Flags:
//	                       -addr HOST:PORT       (default $SINK_ADDR)
//	                       -addr-file FILE       wait up to 10 s for FILE and
//	                                             read the address from it
//	                       -tls starttls|implicit|none (default starttls)
//	                       -ca FILE              CA to trust (default $SINK_CA)
//	                       -auth USER:PASSWORD   AUTH PLAIN
//	                       -from ADDR            (default alice@example.org)
//	                       -to ADDR              repeatable (default bob@example.org)
//	                     Each refused recipient is reported on stderr; deliver
//	                     fails if one was refused or the message was not
//	                     accepted.
package sinktest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/outbox-smtp/outbox/sink"
	"github.com/rogpeppe/go-internal/testscript"
)

// waitTimeout bounds "sink wait" and "deliver -addr-file".
const waitTimeout = 10 * time.Second

// Commands returns the "sink" and "deliver" commands for
// testscript.Params.Cmds.
func Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"sink":    cmdSink,
		"deliver": cmdDeliver,
	}
}

// running holds the sink of each script; scripts run in parallel.
var (
	runningMu sync.Mutex
	running   = map[*testscript.TestScript]*scriptSink{}
)

type scriptSink struct {
	srv *sink.Server
	log *syncBuffer
}

func cmdSink(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("usage: sink start|wait|count|msg|envelope|path|stored|maildir|attach|stop ...")
	}
	if neg && args[0] != "count" {
		ts.Fatalf("unsupported: ! sink %s", args[0])
	}
	switch args[0] {
	case "start":
		startSink(ts, args[1:])
		return
	case "maildir":
		checkMaildir(ts, args)
		return
	case "attach":
		if len(args) != 2 {
			ts.Fatalf("usage: sink attach ADDRFILE")
		}
		setAddrEnv(ts, readAddrFile(ts, ts.MkAbs(args[1])))
		return
	}
	runningMu.Lock()
	s := running[ts]
	runningMu.Unlock()
	if s == nil {
		ts.Fatalf("sink %s: no sink started; run 'sink start' first", args[0])
	}
	switch args[0] {
	case "wait":
		n := intArg(ts, args, 1, "sink wait N")
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		if err := s.srv.Wait(ctx, n); err != nil {
			s.flushLog(ts)
			ts.Fatalf("%v", err)
		}
	case "count":
		n := intArg(ts, args, 1, "sink count N")
		got := s.srv.Received()
		if (got == n) == neg {
			ts.Fatalf("sink received %d messages, want %s%d", got, map[bool]string{true: "not ", false: ""}[neg], n)
		}
	case "msg":
		if len(args) != 3 {
			ts.Fatalf("usage: sink msg I FILE")
		}
		m := message(ts, s, args)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), m.Data, 0o644))
	case "envelope":
		if len(args) != 2 {
			ts.Fatalf("usage: sink envelope I")
		}
		writeEnvelope(ts.Stdout(), message(ts, s, args))
	case "path":
		if len(args) != 2 {
			ts.Fatalf("usage: sink path I")
		}
		m := message(ts, s, args)
		if m.Path == "" {
			ts.Fatalf("message %s was not stored in a file", args[1])
		}
		fmt.Fprintln(ts.Stdout(), m.Path)
	case "stored":
		if len(args) != 3 {
			ts.Fatalf("usage: sink stored I FILE")
		}
		m := message(ts, s, args)
		if m.Path == "" {
			ts.Fatalf("message %s was not stored in a file", args[1])
		}
		b, err := os.ReadFile(m.Path)
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o644))
	case "stop":
		s.stop(ts)
	default:
		ts.Fatalf("unknown sink command %q", args[0])
	}
}

// checkMaildir checks "sink maildir DIR N [FILE]": the Maildir DIR holds
// exactly N messages in new/ and nothing in tmp/; with FILE, the latest
// message is copied to FILE. It reads Maildirs written by [sink.Maildir],
// whose names sort in delivery order.
func checkMaildir(ts *testscript.TestScript, args []string) {
	if len(args) != 3 && len(args) != 4 {
		ts.Fatalf("usage: sink maildir DIR N [FILE]")
	}
	dir := ts.MkAbs(args[1])
	n, err := strconv.Atoi(args[2])
	if err != nil || n < 0 {
		ts.Fatalf("usage: sink maildir DIR N [FILE]: %q is not a count", args[2])
	}
	tmp, err := os.ReadDir(filepath.Join(dir, "tmp"))
	ts.Check(err)
	if len(tmp) != 0 {
		ts.Fatalf("%s/tmp holds %d files, want none", args[1], len(tmp))
	}
	entries, err := os.ReadDir(filepath.Join(dir, "new"))
	ts.Check(err)
	if len(entries) != n {
		ts.Fatalf("%s/new holds %d messages, want %d", args[1], len(entries), n)
	}
	if len(args) == 3 {
		return
	}
	if n == 0 {
		ts.Fatalf("sink maildir: no message to copy")
	}
	// Maildir names start with the time of delivery (os.ReadDir sorts).
	last := entries[len(entries)-1].Name()
	b, err := os.ReadFile(filepath.Join(dir, "new", last))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[3]), b, 0o644))
}

func intArg(ts *testscript.TestScript, args []string, i int, usage string) int {
	if len(args) != i+1 {
		ts.Fatalf("usage: %s", usage)
	}
	n, err := strconv.Atoi(args[i])
	if err != nil || n < 0 {
		ts.Fatalf("usage: %s: %q is not a count", usage, args[i])
	}
	return n
}

func message(ts *testscript.TestScript, s *scriptSink, args []string) sink.Message {
	i, err := strconv.Atoi(args[1])
	if err != nil || i < 1 {
		ts.Fatalf("message number %q: want 1 or more", args[1])
	}
	msgs := s.srv.Messages()
	if i > len(msgs) {
		ts.Fatalf("message %d: the sink received %d", i, len(msgs))
	}
	return msgs[i-1]
}

func writeEnvelope(w io.Writer, m sink.Message) {
	fmt.Fprintf(w, "from %s\n", m.From)
	for _, to := range m.To {
		fmt.Fprintf(w, "to %s\n", to)
	}
	fmt.Fprintf(w, "tls %s\n", map[bool]string{true: "yes", false: "no"}[m.TLS])
	if m.AuthUser != "" {
		fmt.Fprintf(w, "auth %s\n", m.AuthUser)
	}
	fmt.Fprintf(w, "helo %s\n", m.Helo)
	p := m.Params
	if p.Size != 0 {
		fmt.Fprintf(w, "size %d\n", p.Size)
	}
	if p.Body != "" {
		fmt.Fprintf(w, "body %s\n", p.Body)
	}
	if p.SMTPUTF8 {
		fmt.Fprintln(w, "smtputf8")
	}
	if p.Return != "" {
		fmt.Fprintf(w, "ret %s\n", p.Return)
	}
	if p.EnvelopeID != "" {
		fmt.Fprintf(w, "envid %s\n", p.EnvelopeID)
	}
	for _, r := range m.Rcpts {
		if len(r.Notify) > 0 {
			fmt.Fprintf(w, "notify %s %s\n", r.Address, strings.Join(r.Notify, ","))
		}
		if r.OriginalRecipient != "" {
			fmt.Fprintf(w, "orcpt %s %s\n", r.Address, r.OriginalRecipient)
		}
	}
}

func startSink(ts *testscript.TestScript, args []string) {
	runningMu.Lock()
	already := running[ts] != nil
	runningMu.Unlock()
	if already {
		ts.Fatalf("sink start: a sink is already running in this script")
	}
	fs := flag.NewFlagSet("sink start", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	tlsMode := fs.String("tls", "starttls", "")
	auth := fs.String("auth", "", "")
	anyAuth := fs.Bool("any-auth", false, "")
	insecure := fs.Bool("insecure-auth", false, "")
	var rules []sink.Rule
	fs.Func("reject-rcpt", "", func(s string) error {
		r, err := sink.ParseRule(s)
		rules = append(rules, r)
		return err
	})
	rate := fs.Float64("tempfail-rate", 0, "")
	seed := fs.Uint64("seed", 1, "")
	delay := fs.Duration("delay", 0, "")
	maxSize := fs.Int64("max-size", 0, "")
	count := fs.Int("count", 0, "")
	maildir := fs.String("maildir", "maildir", "")
	mbox := fs.String("mbox", "", "")
	hostname := fs.String("hostname", "", "")
	lmtp := fs.Bool("lmtp", false, "")
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("sink start: %v", err)
	}
	if fs.NArg() > 0 {
		ts.Fatalf("sink start: unexpected argument %q", fs.Arg(0))
	}

	mode, err := sink.ParseTLSMode(*tlsMode)
	ts.Check(err)
	cfg := sink.Config{
		Listen:            "127.0.0.1:0",
		Hostname:          *hostname,
		TLS:               mode,
		AnyCredentials:    *anyAuth,
		AllowInsecureAuth: *insecure,
		RejectRcpt:        rules,
		TempfailRate:      *rate,
		Seed:              *seed,
		Delay:             *delay,
		MaxSize:           *maxSize,
		Count:             *count,
		LMTP:              *lmtp,
		Keep:              true,
	}
	if *auth != "" {
		user, pass, ok := strings.Cut(*auth, ":")
		if !ok {
			ts.Fatalf("sink start: -auth wants USER:PASSWORD")
		}
		cfg.User, cfg.Password = user, pass
	}
	cfg.RequireAuth = cfg.User != "" || cfg.AnyCredentials
	if *mbox != "" {
		cfg.Store, err = sink.NewMbox(ts.MkAbs(*mbox))
	} else {
		cfg.Store, err = sink.NewMaildir(ts.MkAbs(*maildir))
	}
	ts.Check(err)
	log := &syncBuffer{}
	cfg.Logf = func(format string, args ...any) {
		fmt.Fprintf(log, "sink: "+strings.TrimSuffix(format, "\n")+"\n", args...)
	}

	srv, err := sink.New(cfg)
	ts.Check(err)
	addr, err := srv.Start()
	ts.Check(err)
	s := &scriptSink{srv: srv, log: log}
	runningMu.Lock()
	running[ts] = s
	runningMu.Unlock()
	ts.Defer(func() { s.stop(ts) })

	setAddrEnv(ts, addr.String())
	if mode != sink.TLSNone {
		ca := ts.MkAbs("sink-ca.pem")
		ts.Check(os.WriteFile(ca, srv.CACertPEM(), 0o644))
		ts.Setenv("SINK_CA", ca)
	}
}

// setAddrEnv sets SINK_ADDR, SINK_HOST and SINK_PORT.
func setAddrEnv(ts *testscript.TestScript, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		ts.Fatalf("sink address %q: %v", addr, err)
	}
	ts.Setenv("SINK_ADDR", addr)
	ts.Setenv("SINK_HOST", host)
	ts.Setenv("SINK_PORT", port)
}

// stop shuts the sink down once; later calls do nothing.
func (s *scriptSink) stop(ts *testscript.TestScript) {
	runningMu.Lock()
	mine := running[ts] == s
	if mine {
		delete(running, ts)
	}
	runningMu.Unlock()
	if !mine {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		ts.Logf("sink: shutdown: %v", err)
	}
	s.flushLog(ts)
}

func (s *scriptSink) flushLog(ts *testscript.TestScript) {
	if l := s.log.take(); l != "" {
		ts.Logf("%s", l)
	}
}

// syncBuffer collects the server's log from its goroutines until the
// script's goroutine can pass it to ts.Logf.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) take() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	b.buf.Reset()
	return s
}

func cmdDeliver(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("deliver", flag.ContinueOnError)
	var usage bytes.Buffer
	fs.SetOutput(&usage)
	addr := fs.String("addr", ts.Getenv("SINK_ADDR"), "")
	addrFile := fs.String("addr-file", "", "")
	tlsMode := fs.String("tls", "starttls", "")
	caFile := fs.String("ca", ts.Getenv("SINK_CA"), "")
	auth := fs.String("auth", "", "")
	from := fs.String("from", "alice@example.org", "")
	var to []string
	fs.Func("to", "", func(s string) error { to = append(to, s); return nil })
	if err := fs.Parse(args); err != nil {
		ts.Fatalf("deliver: %v", err)
	}
	if fs.NArg() != 1 {
		ts.Fatalf("usage: deliver [flags] FILE")
	}
	if len(to) == 0 {
		to = []string{"bob@example.org"}
	}
	data, err := os.ReadFile(ts.MkAbs(fs.Arg(0)))
	ts.Check(err)
	if *addrFile != "" {
		*addr = readAddrFile(ts, ts.MkAbs(*addrFile))
	}
	if *addr == "" {
		ts.Fatalf("deliver: no address: start a sink or pass -addr or -addr-file")
	}
	mode, err := sink.ParseTLSMode(*tlsMode)
	ts.Check(err)

	err = deliver(ts, *addr, mode, *caFile, *auth, *from, to, data)
	if err != nil {
		fmt.Fprintf(ts.Stderr(), "deliver: %v\n", err)
		if !neg {
			ts.Fatalf("deliver: %v", err)
		}
	} else if neg {
		ts.Fatalf("deliver: unexpected success")
	}
}

func readAddrFile(ts *testscript.TestScript, name string) string {
	deadline := time.Now().Add(waitTimeout)
	for {
		b, err := os.ReadFile(name)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			ts.Fatalf("deliver: %s did not appear within %s", filepath.Base(name), waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// deliver sends one message. It reports refused recipients on stderr and
// carries on with the others, as a submission client should.
func deliver(ts *testscript.TestScript, addr string, mode sink.TLSMode, caFile, auth, from string, to []string, data []byte) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	tlsConf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if mode != sink.TLSNone {
		if caFile == "" {
			return errors.New("no CA: pass -ca FILE")
		}
		pem, err := os.ReadFile(ts.MkAbs(caFile))
		if err != nil {
			return err
		}
		tlsConf.RootCAs = x509.NewCertPool()
		if !tlsConf.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", caFile)
		}
	}

	var c *smtp.Client
	switch mode {
	case sink.TLSImplicit:
		c, err = smtp.DialTLS(addr, tlsConf)
	case sink.TLSStartTLS:
		c, err = smtp.DialStartTLS(addr, tlsConf)
	default:
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if auth != "" {
		user, pass, _ := strings.Cut(auth, ":")
		if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
			return fmt.Errorf("AUTH: %v", reply(err))
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return fmt.Errorf("MAIL FROM:<%s>: %v", from, reply(err))
	}
	var refused []string
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			fmt.Fprintf(ts.Stderr(), "RCPT TO:<%s> refused: %v\n", rcpt, reply(err))
			refused = append(refused, rcpt)
		}
	}
	if len(refused) == len(to) {
		return errors.New("every recipient refused")
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %v", reply(err))
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("end of data: %v", reply(err))
	}
	if err := c.Quit(); err != nil {
		return err
	}
	if len(refused) > 0 {
		return fmt.Errorf("delivered, but %d recipients refused", len(refused))
	}
	return nil
}

// reply shows a server refusal as it was on the wire, "550 5.1.1 text":
// go-smtp's own Error method leaves out the enhanced code.
func reply(err error) string {
	var serr *smtp.SMTPError
	if !errors.As(err, &serr) {
		return err.Error()
	}
	if e := serr.EnhancedCode; e != smtp.NoEnhancedCode && e != smtp.EnhancedCodeNotSet {
		return fmt.Sprintf("%d %d.%d.%d %s", serr.Code, e[0], e[1], e[2], serr.Message)
	}
	return fmt.Sprintf("%d %s", serr.Code, serr.Message)
}
