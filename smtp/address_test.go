package smtp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseAddressValid(t *testing.T) {
	tests := []struct {
		in            string
		local, domain string
		path          string
	}{
		{"", "", "", "<>"},
		{"<>", "", "", "<>"},
		{"user@example.org", "user", "example.org", "<user@example.org>"},
		{"<user@example.org>", "user", "example.org", "<user@example.org>"},
		{"First.Last+tag@Mail.Example.ORG", "First.Last+tag", "Mail.Example.ORG", "<First.Last+tag@Mail.Example.ORG>"},
		{"!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~", "example.org", "<!#$%&'*+-/=?^_`{|}~@example.org>"},
		{"a@localhost", "a", "localhost", "<a@localhost>"},
		{"a@x-1.example", "a", "x-1.example", "<a@x-1.example>"},
		{"a@xn--bcher-kva.example", "a", "xn--bcher-kva.example", "<a@xn--bcher-kva.example>"},
		// Quoted local parts (RFC 5321 §4.1.2): kept as values, quoted
		// again on output only when needed.
		{`"john doe"@example.org`, "john doe", "example.org", `<"john doe"@example.org>`},
		{`<"john doe"@example.org>`, "john doe", "example.org", `<"john doe"@example.org>`},
		{`"a@b"@example.org`, "a@b", "example.org", `<"a@b"@example.org>`},
		{`"a\"b\\c"@example.org`, `a"b\c`, "example.org", `<"a\"b\\c"@example.org>`},
		{`".dot"@example.org`, ".dot", "example.org", `<".dot"@example.org>`},
		{`"a..b"@example.org`, "a..b", "example.org", `<"a..b"@example.org>`},
		{`""@example.org`, "", "example.org", `<""@example.org>`},
		{`"plain"@example.org`, "plain", "example.org", "<plain@example.org>"},
		{`"\p\l"@example.org`, "pl", "example.org", "<pl@example.org>"},
		// Address literals (RFC 5321 §4.1.3).
		{"a@[192.0.2.1]", "a", "[192.0.2.1]", "<a@[192.0.2.1]>"},
		{"a@[IPv6:2001:db8::1]", "a", "[IPv6:2001:db8::1]", "<a@[IPv6:2001:db8::1]>"},
		{"a@[ipv6:::ffff:192.0.2.1]", "a", "[ipv6:::ffff:192.0.2.1]", "<a@[ipv6:::ffff:192.0.2.1]>"},
		// UTF-8 (RFC 6531 §3.3).
		{"jöran@bücher.example", "jöran", "bücher.example", "<jöran@bücher.example>"},
		{"用户@例え.テスト", "用户", "例え.テスト", "<用户@例え.テスト>"},
		{`"jö ran"@example.org`, "jö ran", "example.org", `<"jö ran"@example.org>`},
	}
	for _, tc := range tests {
		a, err := ParseAddress(tc.in)
		if err != nil {
			t.Errorf("ParseAddress(%q): %v", tc.in, err)
			continue
		}
		if a.Local != tc.local || a.Domain != tc.domain {
			t.Errorf("ParseAddress(%q) = %#v, want Local %q Domain %q", tc.in, a, tc.local, tc.domain)
		}
		if got := a.Path(); got != tc.path {
			t.Errorf("ParseAddress(%q).Path() = %q, want %q", tc.in, got, tc.path)
		}
		if got := a.String(); "<"+got+">" != tc.path {
			t.Errorf("ParseAddress(%q).String() = %q, want the path without brackets", tc.in, got)
		}
		if a.IsNull() != (tc.path == "<>") {
			t.Errorf("ParseAddress(%q).IsNull() = %v", tc.in, a.IsNull())
		}
		if again, err := ParseAddress(a.String()); err != nil || again != a {
			t.Errorf("ParseAddress(%q) = %#v, %v; want %#v", a.String(), again, err, a)
		}
	}
}

func TestParseAddressInvalid(t *testing.T) {
	long := strings.Repeat("a", 63)
	tests := []struct{ in, why string }{
		// Command injection: nothing may end or split the command line.
		{"a@b.c>\r\nRCPT TO:<x@y.z", "has a CR"},
		{"<a@b.c>\r\nDATA", "has a CR"},
		{"a@b.c\nRCPT TO:<x@y.z>", "has a LF"},
		{"a@b.c\rX", "has a CR"},
		{"a\x00@b.c", "NUL"},
		{`"a\` + "\r\n" + `"@b.c`, "has a CR"},
		{"a@b.c> SIZE=1", "'<' or '>' inside"},
		{"<a@b.c> SIZE=1", "text after the closing '>'"},
		{"a@b.c>", "'>' without an opening '<'"},
		{"<a@b.c", "'<' without a closing '>'"},
		{"<a@b.c>>", "'<' or '>' inside"},
		{"<<a@b.c>", "'<' or '>' inside"},
		{"a>b@c.d", "'<' or '>' inside"},
		{`"<x>"@b.c`, "'<' or '>' inside"},
		{"<a@b.c>x", "text after the closing '>'"},
		{"a\t@b.c", "control character"},
		{"a\x7f@b.c", "control character"},
		{"a\u0085@b.c", "control character"},
		{"a\xff@b.c", "not valid UTF-8"},
		// Spaces outside quotes.
		{" a@b.c", "space outside quotes"},
		{"a@b.c ", "space outside quotes"},
		{"a b@c.d", "space outside quotes"},
		{"a@b .c", "space outside quotes"},
		{"< a@b.c>", "space outside quotes"},
		// Local part.
		{"@b.c", "source route"},
		{"<@relay.example:a@b.c>", "source route"},
		{".a@b.c", "starts with a dot"},
		{"a.@b.c", "ends with a dot"},
		{"a..b@c.d", "two dots in a row"},
		{"a,b@c.d", "has ',' in its local part"},
		{`a"b"@c.d`, "quote inside an unquoted local part"},
		{`"abc@d.e`, "unterminated quoted"},
		{`"abc"x@d.e`, "text after the quoted local part"},
		{`"a\`, "backslash"},
		{"<>x", "text after the closing"},
		{"<a@b.c>\r\n", "has a CR"},
		{strings.Repeat("l", 65) + "@b.c", "local part of 65 octets"},
		{`"` + strings.Repeat(`\"`, 32) + `"@b.c`, "local part of 66 octets"},
		// Domain.
		{"user", "no @domain"},
		{"user@", "no domain"},
		{"a@b@c.d", "more than one '@'"},
		{"a@b..c", "empty domain label"},
		{"a@.b.c", "empty domain label"},
		{"a@b.c.", "ends with a dot"},
		{"a@-b.c", "hyphen"},
		{"a@b-.c", "hyphen"},
		{"a@b_c.d", "has '_' in its domain"},
		{"a@" + long + "x.example", "longer than 63 octets"},
		{"a@" + strings.Repeat(long+".", 4) + "example", "over 255"},
		{"a@xn--zz.example", "not a valid internationalised name"},
		{"a@b\u200d.example", "not a valid internationalised name"},
		{"a@[192.0.2.1", "without a closing ']'"},
		{"a@[192.0.2.256]", "IPv4 address literal"},
		{"a@[192.0.2]", "IPv4 address literal"},
		{"a@[1.2.3.4.5]", "IPv4 address literal"},
		{"a@[1.2.3.a]", "IPv4 address literal"},
		{"a@[]", "IPv4 address literal"},
		{"a@[IPv6:1.2.3.4]", "IPv6 address literal"},
		{"a@[IPv6:fe80::1%eth0]", "IPv6 address literal"},
		{"a@[IPv6:2001:db8::g]", "IPv6 address literal"},
		{"a@[x-tag:abc]", "unknown tag"},
		// RFC 5321 §4.5.3.1.3: the path is at most 256 octets. A 64-octet
		// local part and a 191-octet domain make 258 with "<", "@", ">".
		{strings.Repeat("l", 64) + "@" + strings.Repeat(long+".", 3) + "ab", "over 256"},
		{strings.Repeat("x", 2000), "longer than 256"},
	}
	for _, tc := range tests {
		a, err := ParseAddress(tc.in)
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("ParseAddress(%q) = %#v, %v; want ErrBadInput", tc.in, a, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("ParseAddress(%q) error %q does not say %q", tc.in, err, tc.why)
		}
		if strings.ContainsAny(err.Error(), "\r\n\x00") {
			t.Errorf("ParseAddress(%q) error %q carries raw controls", tc.in, err)
		}
	}
}

func TestAddressLimits(t *testing.T) {
	label := strings.Repeat("d", 63)
	// Exactly at each limit: a 64-octet local part, a 63-octet label, and
	// a path of 256 octets.
	domain := strings.Repeat(label+".", 2) + strings.Repeat("e", 61) // 63+1+63+1+61 = 189
	in := strings.Repeat("l", 64) + "@" + domain
	a, err := ParseAddress(in)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(a.Path()); n != 256 {
		t.Fatalf("path is %d octets, test wants 256", n)
	}
	if _, err := ParseAddress(in[:len(in)-1] + "ee"); !errors.Is(err, ErrBadInput) {
		t.Fatalf("257-octet path accepted: %v", err)
	}
}

func TestAddressSMTPUTF8(t *testing.T) {
	tests := []struct {
		in       string
		needs    bool
		ascii    string // Path of ASCII(), "" when it reports false
		asciiErr bool
	}{
		{"", false, "<>", false},
		{"user@example.org", false, "<user@example.org>", false},
		{"user@[192.0.2.1]", false, "<user@[192.0.2.1]>", false},
		// A UTF-8 domain alone goes as its A-label (RFC 5890).
		{"user@bücher.example", false, "<user@xn--bcher-kva.example>", false},
		{"user@Bücher.EXAMPLE", false, "<user@xn--bcher-kva.example>", false},
		{"user@例え.テスト", false, "<user@xn--r8jz45g.xn--zckzah>", false},
		// A UTF-8 local part needs SMTPUTF8 whatever the domain.
		{"jöran@example.org", true, "", true},
		{"jöran@bücher.example", true, "", true},
		{`"jö ran"@example.org`, true, "", true},
	}
	for _, tc := range tests {
		a, err := ParseAddress(tc.in)
		if err != nil {
			t.Fatalf("ParseAddress(%q): %v", tc.in, err)
		}
		if a.NeedsSMTPUTF8() != tc.needs {
			t.Errorf("%q: NeedsSMTPUTF8 = %v, want %v", tc.in, a.NeedsSMTPUTF8(), tc.needs)
		}
		b, ok := a.ASCII()
		if ok == tc.asciiErr {
			t.Errorf("%q: ASCII() ok = %v", tc.in, ok)
			continue
		}
		if !ok {
			if b != a {
				t.Errorf("%q: ASCII() changed the address to %#v while failing", tc.in, b)
			}
			continue
		}
		if b.Path() != tc.ascii {
			t.Errorf("%q: ASCII().Path() = %q, want %q", tc.in, b.Path(), tc.ascii)
		}
		if !isASCII(b.Path()) {
			t.Errorf("%q: ASCII() path %q is not ASCII", tc.in, b.Path())
		}
	}

	// A-labels longer than the U-labels can push a path over 256 octets;
	// then only SMTPUTF8 can carry it. Each label "ü" (2 octets) becomes
	// "xn--tda" (7 octets).
	in := strings.Repeat("l", 64) + "@" + strings.Repeat("ü.", 29) + "ü"
	a, err := ParseAddress(in)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := a.ASCII(); ok {
		t.Fatalf("ASCII() of %q succeeded; its A-label path is over 256 octets", in)
	}
}

// pathSpacesQuoted reports whether every space in path is inside the
// quoted local part.
func pathSpacesQuoted(path string) bool {
	inQuote := false
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ' ' && !inQuote:
			return false
		}
	}
	return true
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{
		"", "<>", "user@example.org", "<user@example.org>", `"john doe"@example.org`, `"a\"b"@c.d`,
		"a@[192.0.2.1]", "a@[IPv6:2001:db8::1]", "jöran@bücher.example", "a@b.c>\r\nRCPT TO:<x@y.z",
		"<@r.example:a@b.c>", "a..b@c", `"\ "@x`, "a@xn--bcher-kva.example", "a@-", `"@"@"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("ParseAddress(%q) error %v is not ErrBadInput", s, err)
			}
			return
		}
		p := a.Path()
		if strings.ContainsAny(p, "\r\n\x00") {
			t.Fatalf("ParseAddress(%q).Path() = %q has CR, LF or NUL", s, p)
		}
		if !pathSpacesQuoted(p) {
			t.Fatalf("ParseAddress(%q).Path() = %q has a space outside quotes", s, p)
		}
		if strings.Count(p, "<") != 1 || strings.Count(p, ">") != 1 {
			t.Fatalf("ParseAddress(%q).Path() = %q has extra angle brackets", s, p)
		}
		if !a.IsNull() && len(p) > 256 {
			t.Fatalf("ParseAddress(%q).Path() is %d octets", s, len(p))
		}
		for _, form := range []string{a.String(), p} {
			again, err := ParseAddress(form)
			if err != nil || again != a {
				t.Fatalf("ParseAddress(%q) = %#v; reparsing %q gives %#v, %v", s, a, form, again, err)
			}
		}
		if b, ok := a.ASCII(); ok {
			if !isASCII(b.Path()) || b.NeedsSMTPUTF8() {
				t.Fatalf("ASCII() of %q gives %q", s, b.Path())
			}
			if again, err := ParseAddress(b.String()); err != nil || again != b {
				t.Fatalf("ASCII() of %q gives %#v, which reparses as %#v, %v", s, b, again, err)
			}
		} else if !a.NeedsSMTPUTF8() && isASCII(a.Domain) {
			t.Fatalf("ASCII() of all-ASCII %q failed", s)
		}
	})
}

func ExampleParseAddress() {
	a, err := ParseAddress(`<"john doe"@bücher.example>`)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.Path(), a.NeedsSMTPUTF8())
	if ascii, ok := a.ASCII(); ok {
		fmt.Println(ascii.Path())
	}
	_, err = ParseAddress("a@b.example>\r\nRCPT TO:<x@y.example")
	fmt.Println(err)
	// Output:
	// <"john doe"@bücher.example> false
	// <"john doe"@xn--bcher-kva.example>
	// address "a@b.example>\r\nRCPT TO:<x@y.example" has a CR (carriage return): invalid input
}
