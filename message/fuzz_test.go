package message

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"testing/iotest"
)

func FuzzReadHeader(f *testing.F) {
	for _, seed := range []string{
		"",
		"\n",
		"\r\n",
		"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n",
		"Subject: a\n  folded\n\tagain\nBcc: x@example.org\n\nbody",
		"From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: alice@example.org\n\n",
		"hello world\n",
		"Subject: x\nnot a field\n",
		"Subject : obsolete\n\n",
		"To: \"Doe, Jane\" <jane@example.org>, root, Team: a@x, b@y;\n\n",
		"To: undisclosed-recipients:;\n\n",
		"Resent-Date: x\nResent-To: r@example.org\nTo: t@example.org\n\n",
		"Subject: Grüße\r\rx\n\n",
		"Subject: no newline",
		" leading space\n",
		"X:\n \n\n",
		"\r",
		"A: b\r",
		"From ",
	} {
		f.Add([]byte(seed))
	}
	q := &Qualifier{Domain: "example.net", Aliases: map[string][]string{"root": {"admin@example.org"}}}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 16)
		h, err := ReadHeader(br)
		if err != nil {
			if !errors.Is(err, ErrHeaderTooLarge) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		rest, _ := io.ReadAll(br)
		consumed := data[:len(data)-len(rest)]
		if !bytes.HasPrefix(consumed, h.skipped) {
			t.Fatalf("skipped %q is not the start of the input", h.skipped)
		}
		want := consumed[len(h.skipped):]
		if h.inserted {
			want = append(bytes.Clone(want), crlf...)
		}
		var out bytes.Buffer
		if _, err := h.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("WriteTo = %q, want %q", out.Bytes(), want)
		}
		msg, _ := io.ReadAll(NewReader(h, bytes.NewReader(rest)))
		if len(h.skipped) == 0 && !h.inserted && !bytes.Equal(msg, data) {
			t.Fatalf("NewReader = %q, want the input", msg)
		}
		for _, fl := range h.Fields() {
			if fl.Name() == "" {
				t.Fatalf("field without a name: %q", fl.Raw())
			}
			_ = fl.Value()
		}
		_, _ = h.Recipients(q)
		_, _ = h.Addresses("From", q)
		if err := (Prepare{StripBcc: true, AddDate: true, AddMessageID: true, MessageIDDomain: "example.org", QualifyDomain: "example.net"}).Apply(h); err != nil {
			t.Fatal(err)
		}
		if h.Has("Bcc") || h.Has("Resent-Bcc") || !h.Has("Date") || !h.Has("Message-ID") {
			t.Fatal("Apply did not do its job")
		}
	})
}

func FuzzDotTerminated(f *testing.F) {
	for _, seed := range []string{
		"", ".", ".\n", ".\r\n", ".\r", "a\n.\nb", "a\r\n.\r\nb", "a\n..\n.", "a\n. \n", "a\n.\rb\n", "a\r.\n", "\n\n.\n", "..",
	} {
		f.Add([]byte(seed), uint8(0))
		f.Add([]byte(seed), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var src io.Reader = bytes.NewReader(data)
		switch chunk % 3 {
		case 1:
			src = iotest.OneByteReader(src)
		case 2:
			src = iotest.HalfReader(src)
		}
		out, err := io.ReadAll(DotTerminated(src))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("output %q is not a prefix of the input %q", out, data)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if line == "." || line == ".\r" {
				t.Fatalf("output %q holds an end line", out)
			}
		}
		if len(out) < len(data) {
			if len(out) > 0 && out[len(out)-1] != '\n' {
				t.Fatalf("stopped inside a line: %q of %q", out, data)
			}
			rest := data[len(out):]
			if term, _ := isTerminator(rest, len(rest) <= 2); !term {
				t.Fatalf("stopped at %q, which is no end line", rest)
			}
		}
	})
}

func FuzzQualify(f *testing.F) {
	aliases := "# comment\nroot: admin@example.org\nteam: alice@example.org, bob,\n carol\nloop: loop, x\ndefault: catch@example.org\n"
	for _, addr := range []string{"root", "ROOT", "team", "loop", "nobody", "a@b", "", "\"quoted local\"", "|prog", "/file", ":include:/x"} {
		f.Add(aliases, addr)
	}
	f.Add("a: b\nb: a\n", "a")
	f.Add("a: |x\n", "a")
	f.Add("  x\n", "x")
	f.Fuzz(func(t *testing.T, file, addr string) {
		aliases, err := ParseAliases(strings.NewReader(file))
		if err != nil {
			if !errors.Is(err, ErrBadAliases) {
				t.Fatalf("ParseAliases error %v", err)
			}
			return
		}
		for name, targets := range aliases {
			if name != strings.ToLower(name) || len(targets) == 0 {
				t.Fatalf("alias %q: %q", name, targets)
			}
		}
		q := &Qualifier{Domain: "example.net", Aliases: aliases}
		got, err := q.Qualify(addr)
		if err != nil {
			return
		}
		for _, a := range got {
			if !strings.Contains(a, "@") {
				t.Fatalf("Qualify(%q) = %q: unqualified", addr, got)
			}
		}
		if len(got) > maxAliasTargets {
			t.Fatalf("Qualify(%q) expanded to %d addresses", addr, len(got))
		}
	})
}

func FuzzParseAddressList(f *testing.F) {
	for _, seed := range []string{
		"a@example.org", "\"Doe, Jane\" <jane@example.org>, bob@example.org",
		"undisclosed-recipients:;", "Team: a@x.org, b@y.org;, c@z.org", "root", "Cron Daemon <root>",
		"root (Cron Daemon)", "Jörg <j@example.org>", "=?utf-8?q?J=C3=B6rg?= <j@example.org>",
		"=?koi8-r?q?x?= <k@example.org>", "<@relay:a@example.org>", ",,", "(a,b) c@d (e)", "\"unterminated",
		"<unterminated", "a@b@c", "\"a\\\"b\" <x@y>", "a\\", "(((", ":;:;",
	} {
		f.Add(seed)
	}
	q := &Qualifier{Domain: "example.net", Aliases: map[string][]string{"root": {"admin@example.org", "ops"}}}
	f.Fuzz(func(t *testing.T, value string) {
		list, err := ParseAddressList(value, q)
		if err != nil {
			return
		}
		for _, a := range list {
			if !strings.Contains(a.Address, "@") || strings.ContainsAny(a.Address, "\r\n") {
				t.Fatalf("ParseAddressList(%q) gave %q", value, a.Address)
			}
			// What was accepted can be written back out and read again.
			s := a.String()
			back, err := mail.ParseAddress(s)
			if err != nil || back.Address != a.Address {
				t.Fatalf("%q rendered as %q reads back as %v, %v", a.Address, s, back, err)
			}
		}
	})
}

// FuzzBodyEncoding checks that the body encoders reproduce any input, keep
// lines short and 7-bit, and never produce a "=_" that could start a
// boundary.
func FuzzBodyEncoding(f *testing.F) {
	for _, seed := range []string{
		"", "plain\n", "Grüße\r\n", "a\rb", "trailing  \n", strings.Repeat("x", 200), "=_=3D\n", "\x00\xff", ".\n", "--=_x\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(name string, enc []byte) {
			for i, line := range bytes.Split(enc, crlf) {
				if len(line) > 76 {
					t.Fatalf("%s: line %d is %d long", name, i, len(line))
				}
				if bytes.ContainsAny(line, "\r\n") {
					t.Fatalf("%s: bare line break in %q", name, line)
				}
				for _, c := range line {
					if c >= 0x80 || (c < ' ' && c != '\t') {
						t.Fatalf("%s: octet %#x in %q", name, c, line)
					}
				}
			}
			if bytes.Contains(enc, []byte("=_")) {
				t.Fatalf("%s: %q holds =_", name, enc)
			}
		}

		b64, err := io.ReadAll(iotest.OneByteReader(newBase64Reader(iotest.HalfReader(bytes.NewReader(data)))))
		if err != nil {
			t.Fatal(err)
		}
		check("base64", b64)
		dec, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b64)))
		if err != nil || !bytes.Equal(dec, data) {
			t.Fatalf("base64 round trip: %q, %v", dec, err)
		}

		qp, err := io.ReadAll(newQPReader(iotest.OneByteReader(bytes.NewReader(data))))
		if err != nil {
			t.Fatal(err)
		}
		check("quoted-printable", qp)
		dec, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(qp)))
		if err != nil {
			t.Fatal(err)
		}
		if want := canonical(string(data)); string(dec) != want {
			t.Fatalf("quoted-printable round trip: %q, want %q", dec, want)
		}

		if text, ok := sevenBit(data); ok {
			if bytes.Contains(text, []byte("\r\r")) || string(text) != canonical(string(data)) {
				t.Fatalf("7bit %q from %q", text, data)
			}
		}
	})
}
