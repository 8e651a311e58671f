package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC) }

// compose opens c and reads the whole message, checking that every line
// ends in CRLF, is at most 998 octets and that the message is 7-bit
// except where allowUTF8 says the header may hold UTF-8.
func compose(t *testing.T, c *Composition) (*Composed, []byte) {
	t.Helper()
	m, err := c.Open()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	raw, err := io.ReadAll(m)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
	lines := bytes.Split(raw, []byte("\r\n"))
	if len(lines[len(lines)-1]) != 0 && c.Attachments != nil {
		t.Errorf("multipart message does not end in CRLF")
	}
	for i, l := range lines {
		if bytes.ContainsAny(l, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i, l)
		}
		if len(l) > 998 {
			t.Errorf("line %d is %d octets", i, len(l))
		}
	}
	if !m.Header.UTF8() {
		for i, c := range raw {
			if c >= 0x80 {
				t.Fatalf("8-bit octet at %d in a message whose header says 7-bit", i)
			}
		}
	}
	return m, raw
}

func decodeHeader(t *testing.T, s string) string {
	t.Helper()
	got, err := new(mime.WordDecoder).DecodeHeader(s)
	if err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return got
}

func TestComposeSimple(t *testing.T) {
	for _, tc := range []struct {
		name, body, encoding string
	}{
		{"ascii", "Hello,\nthis is plain.\n", "7bit"},
		{"ascii crlf", "Hello,\r\nthis is plain.\r\n", "7bit"},
		{"no final newline", "one line", "7bit"},
		{"utf-8", "Grüße aus Köln\n你好\n", "quoted-printable"},
		{"long line", strings.Repeat("x", 999) + "\n", "quoted-printable"},
		{"998 is short enough", strings.Repeat("x", 998) + "\n", "7bit"},
		{"bare cr", "a\rb\n", "quoted-printable"},
		{"nul", "a\x00b\n", "quoted-printable"},
		{"trailing space", "a  \nb\t\n", "7bit"},
		{"dots and From", ".\n..\nFrom me\n", "7bit"},
		{"empty", "", "7bit"},
		{"larger than the prefix", strings.Repeat("plain ascii line\n", bodyPrefix/17+10), "quoted-printable"},
		{"larger with utf-8", strings.Repeat("Grüße ", bodyPrefix/7+10), "quoted-printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Composition{
				From:    &mail.Address{Name: "Jörg Müller", Address: "joerg@example.org"},
				To:      []*mail.Address{{Name: "Doe, Jane", Address: "jane@example.org"}, {Address: "bob@example.org"}},
				Cc:      []*mail.Address{{Name: "Ünal", Address: "unal@example.org"}},
				Subject: "Grüße, =?not encoded?= and a rather long subject line that needs folding 🎉",
				Body:    strings.NewReader(tc.body),
				Now:     fixedNow,
			}
			m, raw := compose(t, c)
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			h := msg.Header
			if got := decodeHeader(t, h.Get("Subject")); got != c.Subject {
				t.Errorf("Subject = %q, want %q", got, c.Subject)
			}
			from, err := h.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != "Jörg Müller" || from[0].Address != "joerg@example.org" {
				t.Errorf("From = %v, %v", from, err)
			}
			to, err := h.AddressList("To")
			if err != nil || len(to) != 2 || to[0].Name != "Doe, Jane" || to[1].Address != "bob@example.org" {
				t.Errorf("To = %v, %v", to, err)
			}
			if cc, err := h.AddressList("Cc"); err != nil || len(cc) != 1 || cc[0].Name != "Ünal" {
				t.Errorf("Cc = %v, %v", cc, err)
			}
			if h.Get("Bcc") != "" {
				t.Error("Bcc written")
			}
			if d, err := h.Date(); err != nil || !d.Equal(fixedNow()) {
				t.Errorf("Date = %v, %v", d, err)
			}
			if id := h.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@example.org>") {
				t.Errorf("Message-ID = %q", id)
			}
			if h.Get("MIME-Version") != "1.0" {
				t.Error("no MIME-Version")
			}
			if got := h.Get("Content-Type"); got != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := h.Get("Content-Transfer-Encoding"); got != tc.encoding {
				t.Errorf("Content-Transfer-Encoding = %q, want %q", got, tc.encoding)
			}
			if m.Header.UTF8() {
				t.Error("header needs UTF-8")
			}
			body, err := io.ReadAll(decodePart(h.Get("Content-Transfer-Encoding"), msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := canonical(string(body)), canonical(tc.body); got != want {
				t.Errorf("body = %.200q, want %.200q", got, want)
			}
		})
	}
}

// canonical gives text line breaks as CRLF, the form a text body takes on
// the way (RFC 2046 §4.1.1).
func canonical(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func decodePart(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(cte) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64Decoder(r)
	}
	return r
}

func TestComposeAttachments(t *testing.T) {
	dir := t.TempDir()
	binary := make([]byte, 100_000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range binary {
		binary[i] = byte(rng.Uint32())
	}
	// Sequences that would break a careless boundary or encoder.
	copy(binary[1000:], "\r\n--=_\r\n--")
	files := map[string][]byte{
		"data.bin":          binary,
		"report.csv":        []byte("name,city\nJörg,Köln\nJane,\"Doe, TX\"\n"),
		"résumé 2024.pdf":   []byte("%PDF-1.4\n" + string(binary[:5000])),
		"empty":             {},
		"notes":             []byte("plain notes\nwith lines\n"),
		"picture.png":       append([]byte("\x89PNG\r\n\x1a\n"), binary[:300]...),
		"=_looks like.eml":  []byte("From: x@example.org\n\nhi\n"),
		"forced-type.data":  []byte("a;b\n1;2\n"),
		"renamed-on-disk.x": []byte("renamed content"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	forced, err := ParseAttachArg(p("forced-type.data") + ";type=text/csv; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	c := &Composition{
		From:    &mail.Address{Address: "me@example.org"},
		To:      []*mail.Address{{Address: "you@example.org"}},
		Subject: "files",
		Body:    strings.NewReader("See the attached files.\nGrüße\n"),
		Attachments: []Attachment{
			{Path: p("data.bin")},
			{Path: p("report.csv")},
			{Path: p("résumé 2024.pdf")},
			{Path: p("empty")},
			{Path: p("notes")},
			{Path: p("picture.png")},
			{Path: p("=_looks like.eml")},
			forced,
			{Path: p("renamed-on-disk.x"), Name: "Übersicht.txt"},
		},
		Now: fixedNow,
	}
	_, raw := compose(t, c)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if b := params["boundary"]; !strings.HasPrefix(b, "=_") || len(b) < 30 {
		t.Errorf("boundary %q", b)
	}
	type part struct {
		filename, mediaType, charset, encoding string
		data                                   []byte
	}
	want := []part{
		{"", "text/plain", "utf-8", "quoted-printable", []byte("See the attached files.\r\nGrüße\r\n")},
		{"data.bin", "application/octet-stream", "", "base64", binary},
		{"report.csv", "text/csv", "utf-8", "quoted-printable", []byte(canonical(string(files["report.csv"])))},
		{"résumé 2024.pdf", "application/pdf", "", "base64", files["résumé 2024.pdf"]},
		{"empty", "text/plain", "utf-8", "quoted-printable", []byte{}},
		{"notes", "text/plain", "utf-8", "quoted-printable", []byte(canonical(string(files["notes"])))},
		{"picture.png", "image/png", "", "base64", files["picture.png"]},
		{"=_looks like.eml", "application/octet-stream", "", "base64", files["=_looks like.eml"]},
		{"forced-type.data", "text/csv", "utf-8", "quoted-printable", []byte("a;b\r\n1;2\r\n")},
		{"Übersicht.txt", "text/plain", "utf-8", "quoted-printable", []byte("renamed content")},
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; ; i++ {
		// NextRawPart: the test decodes itself, to see the declared encoding.
		pr, err := mr.NextRawPart()
		if err == io.EOF {
			if i != len(want) {
				t.Errorf("%d parts, want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(want) {
			t.Fatalf("extra part %v", pr.Header)
		}
		w := want[i]
		if got := pr.FileName(); got != w.filename {
			t.Errorf("part %d: filename %q, want %q", i, got, w.filename)
		}
		mt, params, err := mime.ParseMediaType(pr.Header.Get("Content-Type"))
		if err != nil || mt != w.mediaType || params["charset"] != w.charset {
			t.Errorf("part %d: Content-Type %q (%v), want %s charset %q", i, pr.Header.Get("Content-Type"), err, w.mediaType, w.charset)
		}
		if w.filename != "" && params["name"] != w.filename {
			t.Errorf("part %d: name parameter %q", i, params["name"])
		}
		enc := pr.Header.Get("Content-Transfer-Encoding")
		if enc != w.encoding {
			t.Errorf("part %d: encoding %q, want %q", i, enc, w.encoding)
		}
		data, err := io.ReadAll(decodePart(enc, pr))
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if !bytes.Equal(data, w.data) {
			t.Errorf("part %d (%s): %d octets differ from the %d sent", i, w.filename, len(data), len(w.data))
		}
	}
	if !bytes.Contains(raw, []byte("filename*=utf-8''r%C3%A9sum%C3%A9%202024.pdf")) {
		t.Error("non-ASCII file name not written with RFC 2231")
	}
}

func TestComposeOnlyAttachment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.bin")
	if err := os.WriteFile(path, []byte{0, 1, 2, 255}, 0o600); err != nil {
		t.Fatal(err)
	}
	_, raw := compose(t, &Composition{
		From:        &mail.Address{Address: "me@example.org"},
		Attachments: []Attachment{{Path: path, ContentType: "application/x-thing"}},
		Now:         fixedNow,
	})
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	_, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	mr := multipart.NewReader(msg.Body, params["boundary"])
	p, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Get("Content-Type") != "application/x-thing; name=a.bin" {
		t.Errorf("first part %v", p.Header)
	}
	if p.Header.Get("Content-Transfer-Encoding") != "base64" {
		t.Errorf("first part %v", p.Header)
	}
	data, err := io.ReadAll(base64Decoder(p))
	if err != nil || !bytes.Equal(data, []byte{0, 1, 2, 255}) {
		t.Errorf("data %v", data)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("more parts: %v", err)
	}
}

func TestComposeHeaders(t *testing.T) {
	base := func() *Composition {
		return &Composition{
			From: &mail.Address{Address: "me@example.org"},
			To:   []*mail.Address{{Address: "you@example.org"}},
			Body: strings.NewReader("x\n"),
			Now:  fixedNow,
		}
	}
	c := base()
	c.Headers = [][2]string{
		{"X-Mailer-Tag", "cron job 7"},
		{"Reply-To", "Jörg <joerg@example.org>"},
		{"X-Note", "Grüße"},
		{"References", "<a@example.org> <b@example.org>"},
		{"Message-ID", "<fixed@example.org>"},
		{"Date", "Fri, 01 Mar 2024 10:00:00 +0100"},
		{"Keywords", "a, b"},
		{"Keywords", "c"},
	}
	m, raw := compose(t, c)
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	h := msg.Header
	for name, want := range map[string]string{
		"X-Mailer-Tag": "cron job 7",
		"X-Note":       "Grüße",
		"References":   "<a@example.org> <b@example.org>",
		"Message-ID":   "<fixed@example.org>",
		"Date":         "Fri, 01 Mar 2024 10:00:00 +0100",
	} {
		if got := decodeHeader(t, h.Get(name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if len(h["Message-Id"]) != 1 || len(h["Date"]) != 1 || len(h["Keywords"]) != 2 {
		t.Errorf("fields: %v", h)
	}
	if rt, err := h.AddressList("Reply-To"); err != nil || len(rt) != 1 || rt[0].Name != "Jörg" {
		t.Errorf("Reply-To = %v, %v", rt, err)
	}
	if m.Header.UTF8() {
		t.Error("UTF-8 header, want everything encoded")
	}

	c = base()
	c.To = []*mail.Address{{Name: "用户", Address: "用户@例子.广告"}}
	m, _ = compose(t, c)
	if !m.Header.UTF8() {
		t.Error("non-ASCII address, but UTF8() is false")
	}

	for _, tc := range []struct {
		name string
		edit func(*Composition)
		want error
	}{
		{"injection in a value", func(c *Composition) { c.Headers = [][2]string{{"X-A", "v\r\nBcc: victim@example.org"}} }, ErrInvalidField},
		{"injection in a name", func(c *Composition) { c.Headers = [][2]string{{"X-A: v\r\nBcc", "victim@example.org"}} }, ErrInvalidField},
		{"LF in a name", func(c *Composition) { c.Headers = [][2]string{{"X-A\nBcc", "x"}} }, ErrInvalidField},
		{"empty name", func(c *Composition) { c.Headers = [][2]string{{"", "x"}} }, ErrInvalidField},
		{"injection in the subject", func(c *Composition) { c.Subject = "hi\r\nBcc: victim@example.org" }, ErrInvalidField},
		{"Bcc", func(c *Composition) { c.Headers = [][2]string{{"bcc", "x@example.org"}} }, ErrInvalidField},
		{"Content-Type", func(c *Composition) { c.Headers = [][2]string{{"Content-Type", "text/html"}} }, ErrInvalidField},
		{"MIME-Version", func(c *Composition) { c.Headers = [][2]string{{"Mime-Version", "1.0"}} }, ErrInvalidField},
		{"second To", func(c *Composition) { c.Headers = [][2]string{{"To", "other@example.org"}} }, ErrInvalidField},
		{"second From", func(c *Composition) { c.Headers = [][2]string{{"From", "other@example.org"}} }, ErrInvalidField},
		{"two Subjects", func(c *Composition) { c.Headers = [][2]string{{"Subject", "a"}, {"subject", "b"}} }, ErrInvalidField},
		{"no From", func(c *Composition) { c.From = nil }, ErrInvalidField},
		{"From without domain", func(c *Composition) { c.From = &mail.Address{Address: "root"} }, ErrBadAddress},
		{"From with line break", func(c *Composition) { c.From = &mail.Address{Address: "a@example.org\r\nBcc: x@example.org"} }, ErrBadAddress},
		{"name with line break", func(c *Composition) {
			c.To = []*mail.Address{{Name: "x\r\nBcc: y@example.org", Address: "a@example.org"}}
		}, ErrBadAddress},
		{"bad Reply-To", func(c *Composition) { c.Headers = [][2]string{{"Reply-To", "Jörg <nope"}} }, ErrBadAddress},
		{"bad Message-ID domain", func(c *Composition) { c.MessageIDDomain = "a b" }, ErrInvalidField},
		{"missing attachment", func(c *Composition) { c.Attachments = []Attachment{{Path: filepath.Join(t.TempDir(), "missing")}} }, ErrBadAttachment},
		{"directory attachment", func(c *Composition) { c.Attachments = []Attachment{{Path: t.TempDir()}} }, ErrBadAttachment},
		{"bad attachment type", func(c *Composition) {
			c.Attachments = []Attachment{{Path: writeTemp(t, "x"), ContentType: "text"}}
		}, ErrBadAttachment},
		{"composite attachment type", func(c *Composition) {
			c.Attachments = []Attachment{{Path: writeTemp(t, "x"), ContentType: "message/rfc822"}}
		}, ErrBadAttachment},
		{"unprintable attachment name", func(c *Composition) {
			c.Attachments = []Attachment{{Path: writeTemp(t, "x"), Name: "a\nb"}}
		}, ErrBadAttachment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(c)
			m, err := c.Open()
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if m != nil {
				t.Error("a message was returned with the error")
			}
		})
	}
}

// TestComposeOpenErrorFirst checks that a missing attachment is reported
// before any of the body is consumed or any file is left open.
func TestComposeOpenErrorFirst(t *testing.T) {
	body := strings.NewReader("body")
	c := &Composition{
		From:        &mail.Address{Address: "me@example.org"},
		Body:        body,
		Attachments: []Attachment{{Path: writeTemp(t, "ok")}, {Path: filepath.Join(t.TempDir(), "missing")}},
	}
	if _, err := c.Open(); !errors.Is(err, ErrBadAttachment) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
	if body.Len() != 4 {
		t.Error("body read before the attachments were opened")
	}
}

func TestComposeBodyError(t *testing.T) {
	boom := errors.New("boom")
	c := &Composition{From: &mail.Address{Address: "me@example.org"}, Body: io.MultiReader(strings.NewReader("x"), errorAfter(boom))}
	if _, err := c.Open(); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
	// A body longer than the prefix fails while it is read.
	long := io.MultiReader(strings.NewReader(strings.Repeat("x", bodyPrefix+1)), errorAfter(boom))
	c = &Composition{From: &mail.Address{Address: "me@example.org"}, Body: long}
	m, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := io.ReadAll(m); !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}

func base64Decoder(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

func errorAfter(err error) io.Reader { return &errReader{err} }

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestParseAttachArg(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Attachment
	}{
		{"report.csv", Attachment{Path: "report.csv"}},
		{"report.csv;type=text/csv", Attachment{Path: "report.csv", ContentType: "text/csv"}},
		{"a;b.txt;type=text/plain", Attachment{Path: "a;b.txt", ContentType: "text/plain"}},
		{"a;b.txt", Attachment{Path: "a;b.txt"}},
		{"x.bin;name=data.bin", Attachment{Path: "x.bin", Name: "data.bin"}},
		{"x.bin;type=application/x-y;name=ü.bin", Attachment{Path: "x.bin", Name: "ü.bin", ContentType: "application/x-y"}},
		{"x.bin;name=n;TYPE=text/plain", Attachment{Path: "x.bin", Name: "n", ContentType: "text/plain"}},
		{"dir/with space/f.txt;type=text/plain; charset=iso-8859-1", Attachment{Path: "dir/with space/f.txt", ContentType: "text/plain; charset=iso-8859-1"}},
		{"x;type=text/plain;type=text/csv", Attachment{Path: "x;type=text/plain", ContentType: "text/csv"}},
	} {
		got, err := ParseAttachArg(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseAttachArg(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", ";type=text/plain", "x;type=", "x;type=text", "x;type=/plain", "x;name="} {
		if _, err := ParseAttachArg(in); !errors.Is(err, ErrBadAttachment) {
			t.Errorf("ParseAttachArg(%q) err = %v, want ErrBadAttachment", in, err)
		}
	}
}

func TestEncodeText(t *testing.T) {
	for _, s := range []string{
		"plain ascii stays",
		"=?utf-8?q?looks_encoded?=",
		"Grüße",
		"Grüße, and a rather long subject line that needs folding 🎉 more and more words",
		strings.Repeat("你好世界", 30),
		strings.Repeat("🎉", 40),
		"  leading and trailing spaces  ",
		"under_score and = equals and ? question",
		strings.Repeat("x", 100) + "é",
	} {
		checkEncodedText(t, "Subject", s)
		checkEncodedText(t, "X-A-Rather-Long-Field-Name-For-Testing-Purposes", s)
	}
}

func checkEncodedText(t *testing.T, name, s string) {
	t.Helper()
	enc := encodeText(s, len(name)+2)
	var h Header
	if err := h.Add(name, enc); err != nil {
		t.Fatal(err)
	}
	raw := string(h.Fields()[0].Raw())
	if isASCII(s) && !strings.Contains(s, "=?") {
		if enc != s {
			t.Errorf("ASCII %q encoded as %q", s, enc)
		}
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n") {
		if len(line) > 76 {
			t.Errorf("%s: line of %d: %q", name, len(line), line)
		}
		if !isASCII(line) {
			t.Errorf("%s: 8-bit line %q", name, line)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeHeader(t, msg.Header.Get(name)); got != s {
		t.Errorf("%s: %q encoded as %q decodes to %q", name, s, raw, got)
	}
}

func FuzzEncodeText(f *testing.F) {
	for _, s := range []string{"Grüße", "=?x?=", "你好", "a b  c", "🎉"} {
		f.Add(s, uint8(9))
	}
	f.Fuzz(func(t *testing.T, s string, prefix uint8) {
		if CheckField("Subject", s) != nil || strings.TrimSpace(s) != s {
			return // not text a caller can give, or trimmed by net/mail
		}
		name := "X-" + strings.Repeat("n", int(prefix%60))
		checkEncodedText(t, name, s)
	})
}
