package smtp

import (
	"bufio"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readReplies(s string, enhanced bool) ([]Reply, error) {
	rr := NewReplyReader(bufio.NewReader(strings.NewReader(s)), ReplyLimits{}, enhanced)
	var out []Reply
	for {
		rep, err := rr.ReadReply()
		if err != nil {
			return out, err
		}
		out = append(out, rep)
	}
}

func TestReplyReader(t *testing.T) {
	cases := []struct {
		in       string
		enhanced bool
		want     Reply
	}{
		{"250 ok\r\n", false, Reply{Code: 250, Lines: []string{"ok"}}},
		{"250\r\n", false, Reply{Code: 250, Lines: []string{""}}},
		{"250-a\r\n250-b\r\n250 c\r\n", false, Reply{Code: 250, Lines: []string{"a", "b", "c"}}},
		{"550 5.1.1 user unknown\r\n", true, Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"user unknown"}}},
		{"550 5.1.1 user unknown\r\n", false, Reply{Code: 550, Lines: []string{"5.1.1 user unknown"}}},
		{"550-5.1.1 a\r\n550 5.1.1 b\r\n", true, Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"a", "b"}}},
		{"250 2.0.0\r\n", true, Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{""}}},
		// The class digit must match the reply code.
		{"250 5.1.1 odd\r\n", true, Reply{Code: 250, Lines: []string{"5.1.1 odd"}}},
		{"334 Ui4xLjE=\r\n", true, Reply{Code: 334, Lines: []string{"Ui4xLjE="}}},
		{"220 \tspaced\r\n", false, Reply{Code: 220, Lines: []string{"\tspaced"}}},
	}
	for _, tc := range cases {
		got, err := readReplies(tc.in, tc.enhanced)
		if len(got) != 1 || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %v %v", tc.in, got, err)
			continue
		}
		if !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.in, got[0], tc.want)
		}
	}
}

func TestReplyReaderRejects(t *testing.T) {
	bad := map[string]error{
		"25 x\r\n":           ErrProtocol,
		"150 x\r\n":          ErrProtocol,
		"650 x\r\n":          ErrProtocol,
		"2a0 x\r\n":          ErrProtocol,
		"250x\r\n":           ErrProtocol,
		"250 x\n":            ErrProtocol,
		"250 x\x00\r\n":      ErrProtocol,
		"250 x\x7f\r\n":      ErrProtocol,
		"250-a\r\n550 b\r\n": ErrProtocol,
		"250-a\r\n":          nil, // EOF inside a multi-line reply
		"250 " + strings.Repeat("x", 5000) + "\r\n": ErrReplyTooLong,
	}
	for in, want := range bad {
		_, err := readReplies(in, false)
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("%q: got %v, want %v", in, err, want)
		}
	}
}

func TestParseEHLO(t *testing.T) {
	ext := ParseEHLO([]string{
		"mx.example.org greets you",
		"PIPELINING",
		"SIZE 10240000",
		"AUTH PLAIN LOGIN",
		"AUTH=LOGIN CRAM-MD5",
		"8BITMIME",
		"X-UNKNOWN-THING a b",
		"bad_keyword!",
		"smtputf8",
	})
	if ext.Domain != "mx.example.org" {
		t.Errorf("domain %q", ext.Domain)
	}
	if n, ok := ext.Size(); !ok || n != 10240000 {
		t.Errorf("size %d %v", n, ok)
	}
	if got := strings.Join(ext.AuthMechanisms(), " "); got != "PLAIN LOGIN CRAM-MD5" {
		t.Errorf("auth %q", got)
	}
	if !ext.Has("pipelining") || !ext.Has(ExtSMTPUTF8) || !ext.Has(Ext8BitMIME) || ext.Has(ExtChunking) {
		t.Errorf("has: %+v", ext.List)
	}
	if p, ok := ext.Params("X-UNKNOWN-THING"); !ok || strings.Join(p, " ") != "a b" {
		t.Errorf("unknown kept: %v %v", p, ok)
	}
	if len(ext.Invalid) != 1 {
		t.Errorf("invalid: %q", ext.Invalid)
	}
	if m := ParseEHLO([]string{"x", "AUTH=", "AUTH"}).AuthMechanisms(); len(m) != 0 {
		t.Errorf("empty AUTH= gave mechanisms %q", m)
	}
	if _, ok := ParseEHLO([]string{"x", "SIZE"}).Size(); !ok {
		t.Error("SIZE without value")
	}
}

func TestQueueID(t *testing.T) {
	cases := map[string]string{
		"2.0.0 Ok: queued as 4Fz1Xk6Q9Tz9sW":                                           "4Fz1Xk6Q9Tz9sW",
		"OK id=1pQ2rS-0003aB-Cd":                                                       "1pQ2rS-0003aB-Cd",
		"2.0.0 x8ABCDEF123 Message accepted for delivery":                              "x8ABCDEF123",
		"2.0.0 OK  1700000000 d12-20020a17090a.12 - gsmtp":                             "d12-20020a17090a.12",
		"2.0.0 <user@example.org> Kf3aB Saved":                                         "Kf3aB",
		"2.6.0 <abc@mail.example> [InternalId=1, Hostname=x] Queued mail for delivery": "abc@mail.example",
		"2.0.0 Ok": "",
	}
	for in, want := range cases {
		if got := QueueID(in); got != want {
			t.Errorf("QueueID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	cases := map[string]string{
		"plain":         "plain",
		"tab\there":     "tab\there",
		"esc\x1b[0m":    `esc\x1b[0m`,
		"bad\xffutf8":   `bad\xffutf8`,
		"café":          "café",
		"bidi\u202egnp": `bidi\u202egnp`,
		"c1\u0085":      `c1\u0085`,
	}
	for in, want := range cases {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzReplyReader: any byte stream either parses into replies whose codes
// are in range and whose lines hold no control characters, or fails with a
// typed error; the reader never panics or exceeds its bounds.
func FuzzReplyReader(f *testing.F) {
	for _, s := range []string{
		"250 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "250-a\r\n251 b\r\n",
		"250 x\n", "\r\n", "999 x\r\n", "250-" + strings.Repeat("x", 100) + "\r\n250 y\r\n",
		"220 \x00\r\n", "334 =\r\n",
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, enhanced bool) {
		limits := ReplyLimits{MaxLine: 256, MaxLines: 8, MaxBytes: 1024}
		rr := NewReplyReader(bufio.NewReaderSize(strings.NewReader(in), 16), limits, enhanced)
		for i := 0; i < 100; i++ {
			rep, err := rr.ReadReply()
			if err != nil {
				return
			}
			if rep.Code < 200 || rep.Code > 599 || len(rep.Lines) == 0 || len(rep.Lines) > 8 {
				t.Fatalf("bad reply %+v", rep)
			}
			for _, l := range rep.Lines {
				if len(l) > 256 || strings.ContainsAny(l, "\r\n\x00") {
					t.Fatalf("bad line %q", l)
				}
			}
		}
	})
}

// FuzzParseEHLO: the capability parser never panics, keeps only valid
// keywords, and every line is either an extension or kept as invalid.
func FuzzParseEHLO(f *testing.F) {
	f.Add("mx\nPIPELINING\nSIZE 100\nAUTH PLAIN LOGIN\nAUTH=LOGIN\n8BITMIME")
	f.Add("x\nSIZE -5\nSIZE 99999999999999999999999\n-bad\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		ext := ParseEHLO(lines)
		for _, e := range ext.List {
			if !validKeyword(e.Keyword) || e.Keyword != strings.ToUpper(e.Keyword) {
				t.Fatalf("bad keyword %q", e.Keyword)
			}
		}
		if n, ok := ext.Size(); ok && n < 0 {
			t.Fatalf("negative size %d", n)
		}
		for _, m := range ext.AuthMechanisms() {
			if m == "" || strings.ContainsAny(m, " \t") {
				t.Fatalf("bad mechanism %q", m)
			}
		}
	})
}
