package message

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/mail"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func readHeader(t *testing.T, in string) (*Header, string) {
	t.Helper()
	br := bufio.NewReader(strings.NewReader(in))
	h, err := ReadHeader(br)
	if err != nil {
		t.Fatalf("ReadHeader(%q): %v", in, err)
	}
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatal(err)
	}
	return h, string(rest)
}

func headerBytes(t *testing.T, h *Header) string {
	t.Helper()
	var b bytes.Buffer
	n, err := h.WriteTo(&b)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) || n != h.Size() {
		t.Fatalf("WriteTo returned %d, wrote %d, Size %d", n, b.Len(), h.Size())
	}
	return b.String()
}

func TestReadHeader(t *testing.T) {
	for _, tc := range []struct {
		name, in    string
		out, body   string
		names       []string
		subject     string
		sepInserted bool
	}{{
		name:    "crlf",
		in:      "From: a@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
		out:     "From: a@example.org\r\nSubject: hi\r\n\r\n",
		body:    "body\r\n",
		names:   []string{"From", "Subject"},
		subject: "hi",
	}, {
		name:    "lf only",
		in:      "From: a@example.org\nSubject: hi\n\nbody\n",
		out:     "From: a@example.org\nSubject: hi\n\n",
		body:    "body\n",
		names:   []string{"From", "Subject"},
		subject: "hi",
	}, {
		name:    "folded",
		in:      "Subject: a\r\n  long\r\n\tsubject\r\nTo: b@example.org\r\n\r\n",
		out:     "Subject: a\r\n  long\r\n\tsubject\r\nTo: b@example.org\r\n\r\n",
		names:   []string{"Subject", "To"},
		subject: "a  long\tsubject",
	}, {
		name:    "obsolete space before colon",
		in:      "Subject : old\n\n",
		out:     "Subject : old\n\n",
		names:   []string{"Subject"},
		subject: "old",
	}, {
		name:    "empty value",
		in:      "Subject:\n\nx",
		out:     "Subject:\n\n",
		body:    "x",
		names:   []string{"Subject"},
		subject: "",
	}, {
		name:  "ends inside the header",
		in:    "To: b@example.org\nSubject: no newline",
		out:   "To: b@example.org\nSubject: no newline",
		names: []string{"To", "Subject"}, subject: "no newline",
	}, {
		name: "no header at all",
		in:   "hello world\nsecond line\n",
		out:  "\r\n", body: "hello world\nsecond line\n",
		sepInserted: true,
	}, {
		name: "body line without the empty line",
		in:   "Subject: test\nhello: world? no, hello world\nthis is the body\n",
		out:  "Subject: test\nhello: world? no, hello world\n\r\n",
		body: "this is the body\n", names: []string{"Subject", "hello"}, subject: "test",
		sepInserted: true,
	}, {
		name: "line without colon ends the header",
		in:   "Subject: test\nhello world\n",
		out:  "Subject: test\n\r\n", body: "hello world\n",
		names: []string{"Subject"}, subject: "test", sepInserted: true,
	}, {
		name: "leading white space is body",
		in:   "  indented\n",
		out:  "\r\n", body: "  indented\n", sepInserted: true,
	}, {
		name: "mbox From line dropped",
		in:   "From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: alice@example.org\n\nx\n",
		out:  "From: alice@example.org\n\n", body: "x\n",
		names: []string{"From"},
	}, {
		name: "empty input",
		in:   "",
	}, {
		name: "empty header",
		in:   "\r\nbody",
		out:  "\r\n", body: "body",
	}, {
		name:  "8-bit and bare CR kept",
		in:    "Subject: Grüße\r\rx\nX-A: b\n\n",
		out:   "Subject: Grüße\r\rx\nX-A: b\n\n",
		names: []string{"Subject", "X-A"}, subject: "Grüße\r\rx",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h, body := readHeader(t, tc.in)
			if got := headerBytes(t, h); got != tc.out {
				t.Errorf("WriteTo = %q, want %q", got, tc.out)
			}
			if body != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			var names []string
			for _, f := range h.Fields() {
				names = append(names, f.Name())
			}
			if strings.Join(names, ",") != strings.Join(tc.names, ",") {
				t.Errorf("names = %q, want %q", names, tc.names)
			}
			if got := h.Get("subject"); got != tc.subject {
				t.Errorf("Get(subject) = %q, want %q", got, tc.subject)
			}
			if h.inserted != tc.sepInserted {
				t.Errorf("inserted = %v", h.inserted)
			}
		})
	}
}

func TestReadHeaderSmallReads(t *testing.T) {
	in := "From: a@example.org\r\nSubject: a\r\n b\r\n\r\nbody\r\n"
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), 16)
	h, err := ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if got := headerBytes(t, h) + string(rest); got != in {
		t.Errorf("got %q, want %q", got, in)
	}
}

func TestReadHeaderLimits(t *testing.T) {
	many := strings.Repeat("X-A: b\n", MaxHeaderFields+1) + "\n"
	if _, err := ReadHeader(bufio.NewReader(strings.NewReader(many))); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("%d fields: err = %v, want ErrHeaderTooLarge", MaxHeaderFields+1, err)
	}
	exact := strings.Repeat("X-A: b\n", MaxHeaderFields) + "\n"
	if h, err := ReadHeader(bufio.NewReader(strings.NewReader(exact))); err != nil || len(h.Fields()) != MaxHeaderFields {
		t.Errorf("%d fields: err = %v", MaxHeaderFields, err)
	}
	big := "Subject: " + strings.Repeat("x", MaxHeaderBytes) + "\n\n"
	if _, err := ReadHeader(bufio.NewReader(strings.NewReader(big))); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("long field: err = %v, want ErrHeaderTooLarge", err)
	}
	folded := "Subject: x\n" + strings.Repeat(" continued\n", MaxHeaderBytes/10) + "\n"
	if _, err := ReadHeader(bufio.NewReader(strings.NewReader(folded))); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("long folded field: err = %v, want ErrHeaderTooLarge", err)
	}
}

func TestReadHeaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("Subject: x\n"), iotest.ErrReader(boom))
	if _, err := ReadHeader(bufio.NewReader(r)); !errors.Is(err, boom) {
		t.Errorf("err = %v, want %v", err, boom)
	}
}

func TestHeaderAccessors(t *testing.T) {
	h, _ := readHeader(t, "To: a@example.org\nX-Multi: one\nto: b@example.org\nX-Multi: two\n  folded\n\n")
	if got := h.Values("TO"); strings.Join(got, "|") != "a@example.org|b@example.org" {
		t.Errorf("Values(TO) = %q", got)
	}
	if got := h.Values("x-multi"); strings.Join(got, "|") != "one|two  folded" {
		t.Errorf("Values(x-multi) = %q", got)
	}
	if !h.Has("x-MULTI") || h.Has("Cc") {
		t.Error("Has")
	}
	if n := h.Del("to"); n != 2 {
		t.Errorf("Del removed %d, want 2", n)
	}
	if got := headerBytes(t, h); got != "X-Multi: one\nX-Multi: two\n  folded\n\n" {
		t.Errorf("after Del: %q", got)
	}
	if h.UTF8() {
		t.Error("UTF8 on ASCII header")
	}
	if err := h.Add("Subject", "Grüße"); err != nil {
		t.Fatal(err)
	}
	if !h.UTF8() {
		t.Error("UTF8 false with a UTF-8 field")
	}
}

func TestStripBcc(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{{
		name: "crlf with folding",
		in: "Received: from x\r\n\tby y; Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
			"From: Alice <alice@example.org>\r\n" +
			"To: \"Doe, Jane\" <jane@example.org>,\r\n  bob@example.org\r\n" +
			"Bcc: secret@example.org,\r\n other@example.org\r\n" +
			"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
			"X-Odd:    spaces   kept   \r\n" +
			"\r\nbody\r\n",
		want: "Received: from x\r\n\tby y; Mon, 1 Jan 2024 00:00:00 +0000\r\n" +
			"From: Alice <alice@example.org>\r\n" +
			"To: \"Doe, Jane\" <jane@example.org>,\r\n  bob@example.org\r\n" +
			"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n" +
			"X-Odd:    spaces   kept   \r\n" +
			"\r\nbody\r\n",
	}, {
		name: "lf only, Bcc first and last, Resent-Bcc",
		in:   "BCC: a@example.org\nResent-Bcc: r@example.org\nTo: b@example.org\nbcc:\n\nbody\n",
		want: "To: b@example.org\n\nbody\n",
	}, {
		name: "no Bcc",
		in:   "To: b@example.org\n\n",
		want: "To: b@example.org\n\n",
	}, {
		name: "X-Bcc and Bcc-like names stay",
		in:   "X-Bcc: keep\nBccx: keep\nBcc : gone\n\n",
		want: "X-Bcc: keep\nBccx: keep\n\n",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			h, err := ReadHeader(br)
			if err != nil {
				t.Fatal(err)
			}
			if err := (Prepare{StripBcc: true}).Apply(h); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(NewReader(h, br))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPrepareAddsOnlyWhenMissing(t *testing.T) {
	now := func() time.Time { return time.Date(2024, 2, 29, 13, 4, 5, 0, time.FixedZone("", 3600)) }
	p := Prepare{
		AddDate: true, AddMessageID: true, Now: now,
		AddFrom: &mail.Address{Name: "Cron Daemon", Address: "root@example.org"},
	}
	t.Run("all present", func(t *testing.T) {
		in := "From: a@example.org\nDate: Thu, 1 Feb 2024 00:00:00 +0000\nMessage-Id: <x@y>\n\nbody\n"
		h, body := readHeader(t, in)
		if err := p.Apply(h); err != nil {
			t.Fatal(err)
		}
		if got := headerBytes(t, h) + body; got != in {
			t.Errorf("changed: %q", got)
		}
	})
	t.Run("all missing", func(t *testing.T) {
		h, body := readHeader(t, "Subject: x\n\nbody\n")
		if err := p.Apply(h); err != nil {
			t.Fatal(err)
		}
		got := headerBytes(t, h) + body
		want := "Subject: x\nFrom: \"Cron Daemon\" <root@example.org>\r\nDate: Thu, 29 Feb 2024 13:04:05 +0100\r\nMessage-ID: <"
		if !strings.HasPrefix(got, want) {
			t.Fatalf("got %q, want prefix %q", got, want)
		}
		msg, err := mail.ReadMessage(strings.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		id := msg.Header.Get("Message-ID")
		if !strings.HasSuffix(id, "@example.org>") || len(id) != len("<@example.org>")+24 {
			t.Errorf("Message-ID = %q", id)
		}
		if d, err := msg.Header.Date(); err != nil || !d.Equal(now()) {
			t.Errorf("Date = %v, %v", d, err)
		}
	})
	t.Run("only what is asked", func(t *testing.T) {
		h, _ := readHeader(t, "Subject: x\n\n")
		if err := (Prepare{}).Apply(h); err != nil {
			t.Fatal(err)
		}
		if got := headerBytes(t, h); got != "Subject: x\n\n" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("message id domain", func(t *testing.T) {
		h, _ := readHeader(t, "From: Jane <jane@Mail.Example.COM>\n\n")
		if err := (Prepare{AddMessageID: true}).Apply(h); err != nil {
			t.Fatal(err)
		}
		if id := h.Get("message-id"); !strings.HasSuffix(id, "@Mail.Example.COM>") {
			t.Errorf("Message-ID = %q", id)
		}
		h, _ = readHeader(t, "\n")
		if err := (Prepare{AddMessageID: true, MessageIDDomain: "host.example.net"}).Apply(h); err != nil {
			t.Fatal(err)
		}
		if id := h.Get("message-id"); !strings.HasSuffix(id, "@host.example.net>") {
			t.Errorf("Message-ID = %q", id)
		}
		h, _ = readHeader(t, "\n")
		err := (Prepare{AddMessageID: true, MessageIDDomain: "bad domain>\r\nBcc: x"}).Apply(h)
		if !errors.Is(err, ErrInvalidField) {
			t.Errorf("bad domain: err = %v", err)
		}
	})
	t.Run("invalid From refused, header unchanged", func(t *testing.T) {
		h, _ := readHeader(t, "Bcc: x@example.org\n\n")
		err := (Prepare{StripBcc: true, AddFrom: &mail.Address{Address: "a@example.org\r\nBcc: x@example.org"}}).Apply(h)
		if !errors.Is(err, ErrBadAddress) {
			t.Errorf("err = %v", err)
		}
		if !h.Has("Bcc") {
			t.Error("header changed by a failed Apply")
		}
	})
	t.Run("added after a last line without newline", func(t *testing.T) {
		h, _ := readHeader(t, "Subject: x")
		if err := (Prepare{AddDate: true, Now: now}).Apply(h); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(NewReader(h, strings.NewReader("body")))
		want := "Subject: x\r\nDate: Thu, 29 Feb 2024 13:04:05 +0100\r\n\r\nbody"
		if string(got) != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestPrepareQualifyDomain(t *testing.T) {
	in := "From: root (Cron Daemon)\n" +
		"To: root, \"Doe, Jane\" <jane@example.org>,\n  Cron <root>, \"Quoted Local\"\n" +
		"Cc: (first) carol (second), undisclosed:;\n" +
		"Reply-To: ops@example.org,\n\tsupport@example.org\n" +
		"Resent-To: Team: dave, erin@example.org;\n" +
		"Subject: root\n" +
		"X-Other: root\n" +
		"\nbody\n"
	want := "From: root@host.example.net (Cron Daemon)\r\n" +
		"To: root@host.example.net, \"Doe, Jane\" <jane@example.org>,  Cron\r\n <root@host.example.net>, \"Quoted Local\"@host.example.net\r\n" +
		"Cc: (first) carol@host.example.net (second), undisclosed:;\r\n" +
		"Reply-To: ops@example.org,\n\tsupport@example.org\n" +
		"Resent-To: Team: dave@host.example.net, erin@example.org;\r\n" +
		"Subject: root\n" +
		"X-Other: root\n" +
		"\nbody\n"
	h, body := readHeader(t, in)
	if err := (Prepare{QualifyDomain: "host.example.net"}).Apply(h); err != nil {
		t.Fatal(err)
	}
	if got := headerBytes(t, h) + body; got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	// Nothing is left to qualify.
	for _, name := range []string{"From", "To", "Cc", "Resent-To"} {
		if _, err := h.Addresses(name, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := (Prepare{QualifyDomain: "bad domain"}).Apply(h); !errors.Is(err, ErrInvalidField) {
		t.Errorf("bad domain: err = %v", err)
	}
}

func TestNewReaderSeparator(t *testing.T) {
	for _, tc := range []struct{ name, in, body, want string }{
		{"read with empty line", "A: b\n\n", "x", "A: b\n\nx"},
		{"ended in header, empty body", "A: b\n", "", "A: b\n"},
		{"ended in header, body", "A: b\n", "x", "A: b\n\r\nx"},
		{"no newline, body", "A: b", "x", "A: b\r\n\r\nx"},
		{"no newline, empty body", "A: b", "", "A: b"},
		{"nothing", "", "", ""},
		{"empty header, body", "", "x", "\r\nx"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := readHeader(t, tc.in)
			got, err := io.ReadAll(iotest.OneByteReader(NewReader(h, strings.NewReader(tc.body))))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("body error", func(t *testing.T) {
		boom := errors.New("boom")
		h, _ := readHeader(t, "A: b\n")
		_, err := io.ReadAll(NewReader(h, io.MultiReader(strings.NewReader("x"), iotest.ErrReader(boom))))
		if !errors.Is(err, boom) {
			t.Errorf("err = %v", err)
		}
		_, err = io.ReadAll(NewReader(h, iotest.ErrReader(boom)))
		if !errors.Is(err, boom) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nil body", func(t *testing.T) {
		h, _ := readHeader(t, "A: b\n")
		got, err := io.ReadAll(NewReader(h, nil))
		if err != nil || string(got) != "A: b\n" {
			t.Errorf("got %q, %v", got, err)
		}
	})
}

func TestCheckField(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"X-Tag", "value", true},
		{"X-Tag", "", true},
		{"X-Tag", "tab\tinside", true},
		{"X-Tag", "Grüße 你好", true},
		{"List-Unsubscribe", "<mailto:u@example.org?subject=unsubscribe>", true},
		{"!#$%&'*+-.^_`|~0aZ", "v", true},
		{"", "v", false},
		{"X Tag", "v", false},
		{"X:Tag", "v", false},
		{"X-Tag\r\nBcc", "v", false},
		{"X-Tägg", "v", false},
		{"X-Tag", "v\r\nBcc: victim@example.org", false},
		{"X-Tag", "v\nBcc: victim@example.org", false},
		{"X-Tag", "v\rBcc: victim@example.org", false},
		{"X-Tag", "v\r\n\r\nbody", false},
		{"X-Tag", "nul\x00", false},
		{"X-Tag", "del\x7f", false},
		{"X-Tag", "esc\x1b[31m", false},
		{"X-Tag", "bad \xff utf-8", false},
	} {
		err := CheckField(tc.name, tc.value)
		if tc.ok != (err == nil) {
			t.Errorf("CheckField(%q, %q) = %v, want ok %v", tc.name, tc.value, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidField) {
			t.Errorf("CheckField(%q, %q) = %v, not ErrInvalidField", tc.name, tc.value, err)
		}
		var h Header
		if err := h.Add(tc.name, tc.value); tc.ok != (err == nil) {
			t.Errorf("Add(%q, %q) = %v", tc.name, tc.value, err)
		} else if err != nil && len(h.Fields()) != 0 {
			t.Errorf("Add(%q, %q) failed but added a field", tc.name, tc.value)
		}
	}
}

func TestParseField(t *testing.T) {
	for _, tc := range []struct{ in, name, value string }{
		{"X-Tag: value", "X-Tag", "value"},
		{"X-Tag:value", "X-Tag", "value"},
		{"X-Tag :  spaced  ", "X-Tag", "spaced"},
		{"Reply-To: \"Doe, Jane\" <jane@example.org>", "Reply-To", "\"Doe, Jane\" <jane@example.org>"},
		{"X-Time: 12:30", "X-Time", "12:30"},
	} {
		name, value, err := ParseField(tc.in)
		if err != nil || name != tc.name || value != tc.value {
			t.Errorf("ParseField(%q) = %q, %q, %v", tc.in, name, value, err)
		}
	}
	for _, in := range []string{
		"no colon", ": no name", "X Tag: v", "X-Tag: v\r\nBcc: x@example.org", "X-Tag\nBcc: x", "X-Tag: a\nb",
	} {
		if _, _, err := ParseField(in); !errors.Is(err, ErrInvalidField) {
			t.Errorf("ParseField(%q) err = %v, want ErrInvalidField", in, err)
		}
	}
}

func TestAddFolds(t *testing.T) {
	long := strings.Repeat("word ", 40) + "end"
	var h Header
	if err := h.Add("X-Long", long); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("X-Unbreakable", strings.Repeat("x", 120)); err != nil {
		t.Fatal(err)
	}
	if err := h.Add("X-Trailing", strings.Repeat("y", 80)+"   "); err != nil {
		t.Fatal(err)
	}
	raw := headerBytes(t, &h)
	lines := strings.Split(strings.TrimSuffix(raw, "\r\n"), "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "X-Unbreakable") || strings.HasPrefix(l, "X-Trailing") {
			continue
		}
		if len(l) > foldWidth {
			t.Errorf("line %d is %d long: %q", i, len(l), l)
		}
		if strings.TrimSpace(l) == "" {
			t.Errorf("line %d is white space only", i)
		}
	}
	if got := h.Get("X-Long"); got != long {
		t.Errorf("unfolded value = %q, want %q", got, long)
	}
	if got := h.Get("X-Trailing"); got != strings.Repeat("y", 80) {
		t.Errorf("X-Trailing = %q", got)
	}
	if n := strings.Count(raw, "\r\n"); n < 5 {
		t.Errorf("not folded: %q", raw)
	}
	msg, err := mail.ReadMessage(strings.NewReader(raw + "\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("X-Long"); got != long {
		t.Errorf("net/mail reads %q", got)
	}
}
