package smtp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestXtext(t *testing.T) {
	tests := []struct{ plain, xtext string }{
		{"", ""},
		{"Bob@Example.COM", "Bob@Example.COM"},
		// "+" and "=" are printable but not xchars.
		{"bob+tag@example.org", "bob+2Btag@example.org"},
		{"a=b", "a+3Db"},
		{"+", "+2B"},
		{"==", "+3D+3D"},
		// SP, controls and DEL are outside "!".."~".
		{"a b", "a+20b"},
		{"\r\nRCPT TO:<x@y>", "+0D+0ARCPT+20TO:<x@y>"},
		{"\x00\x1f\x7f", "+00+1F+7F"},
		// Octets above 127 are encoded one by one, UTF-8 included.
		{"jöran@example.org", "j+C3+B6ran@example.org"},
		{"\xff", "+FF"},
		{"!~", "!~"},
		{"<QQ314159@example.org>", "<QQ314159@example.org>"},
	}
	for _, tc := range tests {
		if got := EncodeXtext(tc.plain); got != tc.xtext {
			t.Errorf("EncodeXtext(%q) = %q, want %q", tc.plain, got, tc.xtext)
		}
		got, err := DecodeXtext(tc.xtext)
		if err != nil || got != tc.plain {
			t.Errorf("DecodeXtext(%q) = %q, %v; want %q", tc.xtext, got, err, tc.plain)
		}
	}
}

func TestDecodeXtextStrict(t *testing.T) {
	// Any octet may be sent as a hexchar, even one that need not be.
	if got, err := DecodeXtext("+41+42c"); err != nil || got != "ABc" {
		t.Fatalf("DecodeXtext(+41+42c) = %q, %v", got, err)
	}
	bad := []struct{ in, why string }{
		{"+", "needs two hex digits"},
		{"+4", "needs two hex digits"},
		{"a+", "needs two hex digits"},
		{"+2b", "upper-case hex"},
		{"+g0", "upper-case hex"},
		{"+ 20", "upper-case hex"},
		{"a b", "not allowed"},
		{"a=b", "not allowed"},
		{"a\r\nb", "not allowed"},
		{"\x00", "not allowed"},
		{"\x7f", "not allowed"},
		{"j\xc3\xb6ran", "not allowed"},
		{"ok+2B+2", "needs two hex digits"},
	}
	for _, tc := range bad {
		got, err := DecodeXtext(tc.in)
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("DecodeXtext(%q) = %q, %v; want ErrBadInput", tc.in, got, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("DecodeXtext(%q) error %q does not say %q", tc.in, err, tc.why)
		}
	}
}

func FuzzXtext(f *testing.F) {
	for _, s := range []string{"", "a", "+", "=", "a b", "\r\n", "\x00", "\xff", "jöran+x=y@example.org", "+2B", "~!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x := EncodeXtext(s)
		for i := 0; i < len(x); i++ {
			c := x[i]
			if c < '!' || c > '~' || c == '=' {
				t.Fatalf("EncodeXtext(%q) = %q has %q", s, x, c)
			}
			if c == '+' {
				// "+" appears only as the prefix of a hexchar.
				if i+2 >= len(x) || strings.IndexByte(upperHex, x[i+1]) < 0 || strings.IndexByte(upperHex, x[i+2]) < 0 {
					t.Fatalf("EncodeXtext(%q) = %q: bare %q at %d", s, x, c, i)
				}
				i += 2
			}
		}
		got, err := DecodeXtext(x)
		if err != nil || got != s {
			t.Fatalf("DecodeXtext(EncodeXtext(%q)) = %q, %v", s, got, err)
		}
		// Decoding arbitrary input either fails cleanly or gives a value
		// whose encoding decodes to the same value.
		if d, err := DecodeXtext(s); err == nil {
			if again, err := DecodeXtext(EncodeXtext(d)); err != nil || again != d {
				t.Fatalf("round trip of decoded %q: %q, %v", d, again, err)
			}
		} else if !errors.Is(err, ErrBadInput) {
			t.Fatalf("DecodeXtext(%q) error %v is not ErrBadInput", s, err)
		}
	})
}

func ExampleEncodeXtext() {
	fmt.Println("ORCPT=rfc822;" + EncodeXtext("bob+tag@example.org"))
	fmt.Println("ENVID=" + EncodeXtext("id=42 ü"))
	// Output:
	// ORCPT=rfc822;bob+2Btag@example.org
	// ENVID=id+3D42+20+C3+BC
}
