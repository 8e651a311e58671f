package message

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDotTerminated(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"lf", "a\n.\nafter\n", "a\n"},
		{"crlf", "a\r\nb\r\n.\r\nafter\r\n", "a\r\nb\r\n"},
		{"first line", ".\nafter", ""},
		{"first line crlf", ".\r\n", ""},
		{"at eof without newline", "a\nb\n.", "a\nb\n"},
		{"cr at eof", "a\n.\r", "a\n"},
		{"dot dot is data", "a\n..\n...\nb\n", "a\n..\n...\nb\n"},
		{"dot then text", "a\n.b\n. \n.\t\n", "a\n.b\n. \n.\t\n"},
		{"dot cr text", "a\n.\rx\n", "a\n.\rx\n"},
		{"dot inside a line", "a.\n x.\n", "a.\n x.\n"},
		{"no terminator", "a\nb", "a\nb"},
		{"empty", "", ""},
		{"only newline", "\n", "\n"},
		{"bare cr is not a line end", "a\r.\nb\n", "a\r.\nb\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, wrap := range []struct {
				name string
				f    func(io.Reader) io.Reader
			}{
				{"plain", func(r io.Reader) io.Reader { return r }},
				{"one byte", iotest.OneByteReader},
				{"half", iotest.HalfReader},
				{"data+EOF", iotest.DataErrReader},
			} {
				got, err := io.ReadAll(DotTerminated(wrap.f(strings.NewReader(tc.in))))
				if err != nil {
					t.Fatalf("%s: %v", wrap.name, err)
				}
				if string(got) != tc.want {
					t.Errorf("%s: got %q, want %q", wrap.name, got, tc.want)
				}
			}
			// The output, read one byte at a time.
			got, err := io.ReadAll(iotest.OneByteReader(DotTerminated(strings.NewReader(tc.in))))
			if err != nil || string(got) != tc.want {
				t.Errorf("one byte reads: got %q, %v", got, err)
			}
		})
	}
	if err := iotest.TestReader(DotTerminated(strings.NewReader("abc\ndef\n.\nx")), []byte("abc\ndef\n")); err != nil {
		t.Error(err)
	}
}

func TestDotTerminatedError(t *testing.T) {
	boom := errors.New("boom")
	for _, in := range []string{"a\n", "a\n.", "a\n.\r", "a"} {
		r := DotTerminated(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)))
		got, err := io.ReadAll(r)
		if !errors.Is(err, boom) {
			t.Errorf("%q: err = %v, want %v", in, err, boom)
		}
		if !strings.HasPrefix(in, string(got)) {
			t.Errorf("%q: got %q", in, got)
		}
	}
}

// blockingReader yields its data, then blocks: like a terminal or pipe with
// more input to come.
type blockingReader struct {
	data  []byte
	block chan struct{}
}

func (b *blockingReader) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		<-b.block
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestDotTerminatedDoesNotWait checks that complete lines are returned
// without waiting for more input, as an interactive sendmail session needs.
func TestDotTerminatedDoesNotWait(t *testing.T) {
	src := &blockingReader{data: []byte("line one\nline two\n"), block: make(chan struct{})}
	defer close(src.block)
	r := DotTerminated(src)
	buf := make([]byte, 100)
	var got []byte
	for !bytes.HasSuffix(got, []byte("two\n")) {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "line one\nline two\n" {
		t.Errorf("got %q", got)
	}
}
