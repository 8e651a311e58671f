package auth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
)

func FuzzDecodeChallenge(f *testing.F) {
	for _, seed := range []string{
		"", "=", "==", "YWJj", "YWJjZA==", "YWJjZA", "YWJjZB==", "YQ==YQ==", "YWJj\r\nZA==", " YWJj",
		"PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
		"cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==",
		"-_-_", "YW\x00j", "\xff\xfe",
	} {
		f.Add([]byte(seed), 0)
		f.Add([]byte(seed), 3)
	}
	f.Fuzz(func(t *testing.T, line []byte, max int) {
		got, err := DecodeChallenge(line, max)
		if err != nil {
			if !errors.Is(err, ErrBadChallenge) {
				t.Fatalf("error %v does not match ErrBadChallenge", err)
			}
			return
		}
		limit := max
		if limit <= 0 {
			limit = MaxChallenge
		}
		if len(got) > limit {
			t.Fatalf("decoded %d octets, bound %d", len(got), limit)
		}
		// Strict means canonical: encoding the result gives the input back.
		want := string(line)
		if want == "=" {
			want = ""
		}
		if enc := base64.StdEncoding.EncodeToString(got); enc != want {
			t.Fatalf("DecodeChallenge(%q) = %q, which encodes as %q", line, got, enc)
		}
	})
}

func FuzzParseServerFirst(f *testing.F) {
	for _, seed := range []string{
		"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		"r=a,s=QQ==,i=1,x=ext,y=more",
		"m=mandatory,r=a,s=QQ==,i=1",
		"r=a,s=QQ==,i=0", "r=a,s=QQ==,i=-1", "r=a,s=QQ==,i=99999999999", "r=a,s=QQ==,i=2147483648",
		"r=a,s=,i=1", "r=,s=QQ==,i=1", "r=a,s=QQ=,i=1", "r=a\x7f,s=QQ==,i=1",
		"e=other-error", "", ",,", "r=a,s=QQ==,i=1,", "r=a,s=QQ==,i=1,=x",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sf, err := parseServerFirst(msg)
		if err != nil {
			if !errors.Is(err, ErrBadChallenge) {
				t.Fatalf("error %v does not match ErrBadChallenge", err)
			}
			return
		}
		if !isPrintable(sf.nonce) || len(sf.salt) == 0 || sf.iter < 1 || sf.iter > 1<<31-1 {
			t.Fatalf("parseServerFirst(%q) = %+v", msg, sf)
		}
		// The parse accounts for the message: its mandatory part is
		// exactly what the fields say, and anything after is extensions.
		head := "r=" + sf.nonce + ",s=" + base64.StdEncoding.EncodeToString(sf.salt) + ",i=" + strconv.Itoa(sf.iter)
		rest, ok := strings.CutPrefix(msg, head)
		if !ok || rest != "" && rest[0] != ',' {
			t.Fatalf("parseServerFirst(%q) = %+v, which does not rebuild the message", msg, sf)
		}
	})
}

func FuzzParseServerFinal(f *testing.F) {
	for _, seed := range []string{
		"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		"e=invalid-proof", "e=channel-bindings-dont-match,x=y", "v=", "e=", "v=rmF9", "x=abc", "",
		"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,", "e=a=b", "v=AA==\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sf, err := parseServerFinal(msg)
		if err != nil {
			if !errors.Is(err, ErrBadChallenge) {
				t.Fatalf("error %v does not match ErrBadChallenge", err)
			}
			return
		}
		var head string
		switch {
		case sf.err != "" && sf.verifier == nil:
			head = "e=" + sf.err
		case sf.err == "" && len(sf.verifier) > 0:
			head = "v=" + base64.StdEncoding.EncodeToString(sf.verifier)
		default:
			t.Fatalf("parseServerFinal(%q) = %+v: want exactly one of verifier and error", msg, sf)
		}
		if rest, ok := strings.CutPrefix(msg, head); !ok || rest != "" && rest[0] != ',' {
			t.Fatalf("parseServerFinal(%q) = %+v, which does not rebuild the message", msg, sf)
		}
	})
}

// FuzzSCRAMExchange drives a whole SCRAM client with arbitrary server
// messages: it must never panic, and it may report success only when the
// server's signature is right.
func FuzzSCRAMExchange(f *testing.F) {
	f.Add("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
	f.Add("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=,x=1")
	f.Add("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096", "v=AAAApqV8S7suAoZWja4dJRkFsKQ=")
	f.Add("r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=16", "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=")
	f.Add("r=fyko+d2lbbFgONRv9qkxdawLx,s=QQ==,i=1", "e=invalid-proof")
	f.Add("e=server-does-support-channel-binding", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, first, final string) {
		// A low iteration cap keeps each run fast; the bound itself is
		// what the hostile-input tests check.
		m, err := NewSCRAM(SCRAMParams{Hash: SHA1, User: "user", Password: fixed("pencil", nil), MinIterations: 1, MaxIterations: 4096})
		if err != nil {
			t.Fatal(err)
		}
		m.nonce = func() (string, error) { return "fyko+d2lbbFgONRv9qkxdawL", nil }
		if _, _, err := m.Start(); err != nil {
			t.Fatal(err)
		}
		_, err1 := m.Next([]byte(first))
		resp, err2 := m.Next([]byte(final))
		verified := m.Verify() == nil
		if verified != (err1 == nil && err2 == nil && first != "") {
			t.Fatalf("Verify() == nil is %v after errors %v, %v", verified, err1, err2)
		}
		if verified {
			if len(resp) != 0 {
				t.Fatalf("answer to server-final = %q, want empty", resp)
			}
			sf, err := parseServerFinal(final)
			if err != nil || !bytes.Equal(sf.verifier, m.serverSignature) {
				t.Fatalf("verified against %q", final)
			}
		}
		for _, err := range []error{err1, err2} {
			if err != nil && !errors.Is(err, ErrBadChallenge) && !errors.Is(err, ErrAuthFailed) {
				t.Fatalf("error %v is neither ErrBadChallenge nor ErrAuthFailed", err)
			}
		}
	})
}
