package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/cmd"
	"github.com/outbox-smtp/outbox/sink/sinktest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	run := func() { os.Exit(cmd.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, "test")) }
	testscript.Main(m, map[string]func(){
		"outbox": run,
		// The same binary under the name sendmail: cmd.Main switches to
		// sendmail mode by the name it was run as, as with a symlink.
		"sendmail": run,
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("NO_COLOR", "1")
			// The repository, for scripts that run its own scripts (the
			// README's commands).
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("REPO", wd)
			return nil
		},
		Cmds: scriptCommands(),
	})
}

// scriptCommands are the custom commands of the scripts: sink and deliver
// (see package sinktest), outboxexit and sendmailexit, json, mimecanon,
// mimepart, genfile, b64re, envq, closedport, badserver and fakesmtp.
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := sinktest.Commands()
	cmds["outboxexit"] = func(ts *testscript.TestScript, neg bool, args []string) { execExit(ts, neg, "outbox", args) }
	cmds["sendmailexit"] = func(ts *testscript.TestScript, neg bool, args []string) { execExit(ts, neg, "sendmail", args) }
	cmds["json"] = cmdJSON
	cmds["mimecanon"] = cmdMIMECanon
	cmds["mimepart"] = cmdMIMEPart
	cmds["genfile"] = cmdGenFile
	cmds["b64re"] = cmdB64Re
	cmds["envq"] = cmdEnvQ
	cmds["closedport"] = cmdClosedPort
	cmds["badserver"] = cmdBadServer
	cmds["fakesmtp"] = cmdFakeSMTP
	return cmds
}

// outboxexit N args... (and sendmailexit N args...) runs outbox (or
// outbox as sendmail) with args, the script's environment and stdin, and
// checks that it exits with status exactly N. Its output is then checked
// with stdout and stderr, as after exec.
func execExit(ts *testscript.TestScript, neg bool, prog string, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! %sexit", prog)
	}
	if len(args) < 1 {
		ts.Fatalf("usage: %sexit N args...", prog)
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("usage: %sexit N args...: %q is not an exit status", prog, args[0])
	}
	got := 0
	if err := ts.Exec(prog, args[1:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("%s: %v", prog, err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", prog, got, want)
	}
}

// json [-re] PATH [WANT] looks up PATH in the JSON object that the last
// command printed on stdout (which must hold exactly one JSON value).
// PATH is a dotted path from the root, with indexes for arrays:
// .status, .tls.version, .recipients.1.code ("." alone is the root).
// A string value is compared with WANT as it is; any other value in its
// compact JSON form (550, true, null, ["a","b"]). With -re, WANT is a
// regular expression that must match. Without WANT the value must merely
// exist. "! json PATH" checks that PATH does not exist; "! json PATH WANT"
// that it exists with another value. "json -len PATH N" checks the
// length of an array or object.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	re, length := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-re":
			re = true
		case "-len":
			length = true
		default:
			ts.Fatalf("json: unknown flag %s", args[0])
		}
		args = args[1:]
	}
	if len(args) < 1 || len(args) > 2 || (re || length) && len(args) != 2 {
		ts.Fatalf("usage: json [-re|-len] PATH [WANT]")
	}
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile("stdout")))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		ts.Fatalf("json: stdout is not JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		ts.Fatalf("json: stdout holds more than one JSON value")
	}
	v, ok := jsonLookup(root, args[0])
	if len(args) == 1 {
		if ok == neg {
			ts.Fatalf("json: %s: present %v, want %v", args[0], ok, !neg)
		}
		return
	}
	if !ok {
		ts.Fatalf("json: %s: no such field", args[0])
	}
	var got string
	switch x := v.(type) {
	case string:
		got = x
	case []any:
		if length {
			got = strconv.Itoa(len(x))
			break
		}
		b, _ := json.Marshal(x)
		got = string(b)
	case map[string]any:
		if length {
			got = strconv.Itoa(len(x))
			break
		}
		b, _ := json.Marshal(x)
		got = string(b)
	default:
		if length {
			ts.Fatalf("json: -len %s: not an array or object", args[0])
		}
		b, _ := json.Marshal(x)
		got = string(b)
	}
	match := got == args[1]
	if re {
		rx, err := regexp.Compile(args[1])
		ts.Check(err)
		match = rx.MatchString(got)
	}
	if match == neg {
		ts.Fatalf("json: %s is %q, want %s%q", args[0], got, map[bool]string{true: "not ", false: ""}[neg], args[1])
	}
}

func jsonLookup(v any, path string) (any, bool) {
	if path == "." {
		return v, true
	}
	if !strings.HasPrefix(path, ".") {
		return nil, false
	}
	for _, key := range strings.Split(path[1:], ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[key]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// mimecanon FILE prints a canonical form of the MIME message in FILE, for
// cmp against a golden file: each header field on a line with its value
// unfolded and its encoded words decoded; the values of Date and
// Message-ID, which change on every run, replaced by <date> and
// <message-id> once they are checked to be well formed, and the boundary
// by <boundary>. Then each part, numbered as in IMAP (1, 2, 2.1), with its
// fields and its content decoded from its transfer encoding, quoted as a
// Go string when it is short text and otherwise given as its size and
// SHA-256. Each line of the raw message must end in CRLF.
func cmdMIMECanon(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mimecanon FILE")
	}
	raw := []byte(ts.ReadFile(args[0]))
	if i := bytes.Index(bytes.ReplaceAll(raw, []byte("\r\n"), nil), []byte("\n")); i >= 0 {
		ts.Fatalf("mimecanon: %s has a bare LF", args[0])
	}
	var out strings.Builder
	if err := canonMessage(&out, raw); err != nil {
		ts.Fatalf("mimecanon: %s: %v", args[0], err)
	}
	fmt.Fprint(ts.Stdout(), out.String())
}

func canonMessage(w io.Writer, raw []byte) error {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	// net/mail keeps no field order: read the names in order ourselves.
	names, err := fieldNames(raw)
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for _, name := range names {
		key := textproto.CanonicalMIMEHeaderKey(name)
		vals := m.Header[key]
		i := seen[key]
		seen[key]++
		if i >= len(vals) {
			return fmt.Errorf("field %s: lost by the parser", name)
		}
		val, err := canonField(key, vals[i])
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s: %s\n", name, val)
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		return err
	}
	return canonPart(w, "", mail.Header(m.Header), body)
}

// fieldNames lists the header field names of a message in order.
func fieldNames(raw []byte) ([]string, error) {
	var names []string
	for _, line := range strings.Split(string(raw), "\r\n") {
		if line == "" {
			return names, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q has no colon", line)
		}
		names = append(names, name)
	}
	return nil, errors.New("no end of header")
}

var (
	wordDecoder = &mime.WordDecoder{}
	msgIDRe     = regexp.MustCompile(`^<[^<>@\s]+@[^<>@\s]+>$`)
)

func canonField(key, val string) (string, error) {
	switch key {
	case "Date":
		if _, err := mail.ParseDate(val); err != nil {
			return "", fmt.Errorf("Date %q: %v", val, err)
		}
		return "<date>", nil
	case "Message-Id":
		if !msgIDRe.MatchString(val) {
			return "", fmt.Errorf("Message-ID %q is not <left@right>", val)
		}
		return "<message-id>", nil
	case "Content-Type":
		mt, params, err := mime.ParseMediaType(val)
		if err != nil {
			return "", fmt.Errorf("Content-Type %q: %v", val, err)
		}
		if _, ok := params["boundary"]; ok {
			params["boundary"] = "<boundary>"
		}
		return formatMediaType(mt, params), nil
	case "Content-Disposition":
		d, params, err := mime.ParseMediaType(val)
		if err != nil {
			return "", fmt.Errorf("Content-Disposition %q: %v", val, err)
		}
		return formatMediaType(d, params), nil
	}
	dec, err := wordDecoder.DecodeHeader(val)
	if err != nil {
		return "", fmt.Errorf("field %s %q: %v", key, val, err)
	}
	return dec, nil
}

// formatMediaType prints a media type with its parameters sorted and
// unquoted, so that equivalent spellings compare equal.
func formatMediaType(mt string, params map[string]string) string {
	s := mt
	keys := sortedKeys(params)
	for _, k := range keys {
		s += "; " + k + "=" + params[k]
	}
	return s
}

// canonPart prints the content of a part (the message itself for num "")
// whose header h has already been printed.
func canonPart(w io.Writer, num string, h mail.Header, body []byte) error {
	label := "body"
	if num != "" {
		label = "part " + num + " content"
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return err
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i := 1; ; i++ {
			// NextRawPart: NextPart would decode quoted-printable and hide
			// the Content-Transfer-Encoding field.
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			sub := strconv.Itoa(i)
			if num != "" {
				sub = num + "." + sub
			}
			fmt.Fprintf(w, "part %s\n", sub)
			for _, k := range sortedKeys(p.Header) {
				for _, v := range p.Header[k] {
					cv, err := canonField(k, v)
					if err != nil {
						return err
					}
					fmt.Fprintf(w, "part %s %s: %s\n", sub, k, cv)
				}
			}
			pb, err := io.ReadAll(p)
			if err != nil {
				return err
			}
			if err := canonPart(w, sub, mail.Header(p.Header), pb); err != nil {
				return err
			}
		}
	}
	content, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("%s: %v", label, err)
	}
	if strings.HasPrefix(mt, "text/") && len(content) <= 200 && isPrintable(content) {
		fmt.Fprintf(w, "%s %q\n", label, content)
	} else {
		fmt.Fprintf(w, "%s size %d sha256 %x\n", label, len(content), sha256.Sum256(content))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func isPrintable(b []byte) bool {
	for _, r := range string(b) {
		if r == 0xfffd || r < ' ' && r != '\r' && r != '\n' && r != '\t' {
			return false
		}
	}
	return true
}

func decodeTransfer(cte string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "", "7bit", "8bit", "binary":
		return body, nil
	case "base64":
		for _, line := range strings.Split(string(body), "\r\n") {
			if len(line) > 76 {
				return nil, fmt.Errorf("base64 line of %d characters (RFC 2045 §6.8: at most 76)", len(line))
			}
		}
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(strings.ReplaceAll(string(body), "\r\n", ""))))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	}
	return nil, fmt.Errorf("unknown Content-Transfer-Encoding %q", cte)
}

// mimepart FILE NUM OUT writes the content of part NUM (numbered as by
// mimecanon) of the MIME message in FILE to OUT, decoded from its
// transfer encoding, for cmp against the original file.
func cmdMIMEPart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mimepart FILE NUM OUT")
	}
	m, err := mail.ReadMessage(strings.NewReader(ts.ReadFile(args[0])))
	ts.Check(err)
	h, body := mail.Header(m.Header), []byte(nil)
	body, err = io.ReadAll(m.Body)
	ts.Check(err)
	for _, n := range strings.Split(args[1], ".") {
		want, err := strconv.Atoi(n)
		if err != nil || want < 1 {
			ts.Fatalf("mimepart: bad part number %q", args[1])
		}
		_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		ts.Check(err)
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for i := 1; ; i++ {
			p, err := mr.NextRawPart()
			if err != nil {
				ts.Fatalf("mimepart: part %s: %v", args[1], err)
			}
			if i == want {
				h = mail.Header(p.Header)
				body, err = io.ReadAll(p)
				ts.Check(err)
				break
			}
		}
	}
	content, err := decodeTransfer(h.Get("Content-Transfer-Encoding"), body)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), content, 0o644))
}

// genfile FILE SIZE writes SIZE pseudo-random bytes (every byte value,
// NUL and CR and LF included; the same bytes on every run) to FILE.
func cmdGenFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: genfile FILE SIZE")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil || n < 0 {
		ts.Fatalf("genfile: bad size %q", args[1])
	}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		if i < 256 {
			b[i] = byte(i)
		} else {
			b[i] = byte(r.Uint32())
		}
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// b64re VAR TEXT sets VAR to the base64 of TEXT, quoted for use in a
// stdout or stderr pattern. TEXT is read as the inside of a Go string
// literal, so \x00 is a NUL byte.
func cmdB64Re(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: b64re VAR TEXT")
	}
	text, err := strconv.Unquote(`"` + args[1] + `"`)
	if err != nil {
		ts.Fatalf("b64re: %q: %v", args[1], err)
	}
	ts.Setenv(args[0], regexp.QuoteMeta(base64.StdEncoding.EncodeToString([]byte(text))))
}

// envq VAR TEXT sets VAR to TEXT read as the inside of a Go string
// literal, for values a script cannot write, such as "a\r\nb".
func cmdEnvQ(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envq VAR TEXT")
	}
	text, err := strconv.Unquote(`"` + args[1] + `"`)
	if err != nil {
		ts.Fatalf("envq: %q: %v", args[1], err)
	}
	ts.Setenv(args[0], text)
}

// closedport VAR sets VAR to a 127.0.0.1 address where nothing listens: a
// port that was just bound and released.
func cmdClosedPort(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: closedport VAR")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := l.Addr().String()
	ts.Check(l.Close())
	ts.Setenv(args[0], addr)
}

// badserver VAR TEXT starts a server on 127.0.0.1:0 that answers every
// connection with TEXT (read as the inside of a Go string literal, so
// "\r\n" ends a line), then reads and discards what the client sends
// until it closes the connection. VAR is set to its address. It stops
// when the script ends. It stands for servers that break the protocol,
// which the sink, being correct, cannot imitate.
func cmdBadServer(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: badserver VAR TEXT")
	}
	text, err := strconv.Unquote(`"` + args[1] + `"`)
	if err != nil {
		ts.Fatalf("badserver: %q: %v", args[1], err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute))
				if _, err := io.WriteString(c, text); err == nil {
					io.Copy(io.Discard, c)
				}
			}()
		}
	}()
	ts.Setenv(args[0], l.Addr().String())
}

// fakesmtp VAR LOG [VERB=REPLY]... starts a plaintext SMTP server on
// 127.0.0.1:0 that knows no extension unless told, for what the sink
// always offers (8BITMIME, SMTPUTF8). It greets with "220 fake.example
// ESMTP" and answers each command line by its verb: EHLO with
// "250 fake.example", MAIL, RCPT, RSET and NOOP with 250, QUIT with 221
// (and closes), anything else, DATA and BDAT included, with 502. A
// VERB=REPLY argument replaces a verb's reply; REPLY is read as the inside
// of a Go string literal ("250-fake.example\r\n250 SIZE"). When DATA is
// answered with 354, the message is read up to the lone dot, which is
// answered with the reply of the verb "." (default 250). Every line the
// client sends is appended to LOG. VAR is set to the address.
func cmdFakeSMTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: fakesmtp VAR LOG [VERB=REPLY]...")
	}
	replies := map[string]string{
		"EHLO": "250 fake.example",
		"MAIL": "250 2.1.0 Ok",
		"RCPT": "250 2.1.5 Ok",
		"RSET": "250 2.0.0 Ok",
		"NOOP": "250 2.0.0 Ok",
		"QUIT": "221 2.0.0 Bye",
	}
	for _, a := range args[2:] {
		verb, reply, ok := strings.Cut(a, "=")
		if !ok {
			ts.Fatalf("fakesmtp: %q is not VERB=REPLY", a)
		}
		r, err := strconv.Unquote(`"` + reply + `"`)
		if err != nil {
			ts.Fatalf("fakesmtp: %q: %v", a, err)
		}
		replies[strings.ToUpper(verb)] = r
	}
	logf, err := os.OpenFile(ts.MkAbs(args[1]), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	ts.Check(err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	var mu sync.Mutex
	ts.Defer(func() {
		l.Close()
		mu.Lock()
		logf.Close()
		mu.Unlock()
	})
	serve := func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		if _, err := io.WriteString(c, "220 fake.example ESMTP\r\n"); err != nil {
			return
		}
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			mu.Lock()
			logf.WriteString(line)
			mu.Unlock()
			verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			reply, ok := replies[strings.ToUpper(verb)]
			if !ok {
				reply = "502 5.5.1 Not here"
			}
			if _, err := io.WriteString(c, strings.ReplaceAll(strings.ReplaceAll(reply, "\r\n", "\n"), "\n", "\r\n")+"\r\n"); err != nil {
				return
			}
			if strings.EqualFold(verb, "QUIT") {
				return
			}
			if strings.EqualFold(verb, "DATA") && strings.HasPrefix(reply, "354") {
				// The message, up to the lone dot, then the reply to ".".
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					mu.Lock()
					logf.WriteString(line)
					mu.Unlock()
					if line == ".\r\n" {
						break
					}
				}
				end, ok := replies["."]
				if !ok {
					end = "250 2.0.0 Ok: queued"
				}
				if _, err := io.WriteString(c, end+"\r\n"); err != nil {
					return
				}
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	ts.Setenv(args[0], l.Addr().String())
}
