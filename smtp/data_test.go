package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// unstuff reverses DATA transparency (RFC 5321 §4.5.2) the way a server
// does: it reads CRLF-terminated lines, removes one leading "." from each,
// and stops at the line holding only ".", which must be the last bytes.
func unstuff(wire []byte) ([]byte, error) {
	var body []byte
	for len(wire) > 0 {
		i := bytes.Index(wire, []byte("\r\n"))
		if i < 0 {
			return nil, fmt.Errorf("unterminated line %q", wire)
		}
		line := wire[:i]
		wire = wire[i+2:]
		if string(line) == "." {
			if len(wire) > 0 {
				return nil, fmt.Errorf("%d bytes after the end-of-data mark", len(wire))
			}
			return body, nil
		}
		if len(line) > 0 && line[0] == '.' {
			line = line[1:]
		}
		body = append(body, line...)
		body = append(body, '\r', '\n')
	}
	return nil, errors.New("no end-of-data mark")
}

// normalise is the body as it must arrive: every CR LF, bare CR and bare
// LF becomes CRLF, and a last line without one gets one.
func normalise(in []byte) []byte {
	var out []byte
	for i := 0; i < len(in); i++ {
		switch in[i] {
		case '\r':
			if i+1 < len(in) && in[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, in[i])
		}
	}
	if len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// reference encodes in byte by byte, independently of BodyWriter, and
// reports whether the policy accepts it.
func reference(in []byte, p BodyPolicy, dotStuff bool) ([]byte, bool) {
	if p.Binary {
		if dotStuff {
			return nil, false
		}
		return append([]byte(nil), in...), true
	}
	max := p.MaxLineLength
	if max == 0 {
		max = DefaultMaxLineLength
	}
	var lines [][]byte
	var cur []byte
	open := false
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == '\r' || c == '\n':
			crlf := c == '\r' && i+1 < len(in) && in[i+1] == '\n'
			if !crlf && p.RejectBareLineEndings {
				return nil, false
			}
			if crlf {
				i++
			}
			lines = append(lines, cur)
			cur, open = nil, false
			continue
		case c == 0:
			return nil, false
		case c >= 0x80 && !p.Allow8Bit:
			return nil, false
		}
		cur = append(cur, c)
		open = true
		if max >= 0 && len(cur) > max {
			return nil, false
		}
	}
	if open {
		lines = append(lines, cur)
	}
	var out []byte
	for _, l := range lines {
		if dotStuff && len(l) > 0 && l[0] == '.' {
			out = append(out, '.')
		}
		out = append(out, l...)
		out = append(out, '\r', '\n')
	}
	if dotStuff {
		out = append(out, ".\r\n"...)
	}
	return out, true
}

// encode runs in through a BodyWriter as the given pieces.
func encode(p BodyPolicy, dotStuff bool, pieces ...[]byte) ([]byte, BodyStats, error) {
	var out bytes.Buffer
	bw := NewBodyWriter(&out, p, dotStuff)
	for _, piece := range pieces {
		n, err := bw.Write(piece)
		if err != nil {
			return out.Bytes(), bw.Stats(), err
		}
		if n != len(piece) {
			return out.Bytes(), bw.Stats(), fmt.Errorf("Write took %d of %d bytes without error", n, len(piece))
		}
	}
	err := bw.Close()
	return out.Bytes(), bw.Stats(), err
}

// splits yields in as one piece, as splits into two pieces, and as single
// bytes, so that state carried across Write calls is exercised. Long inputs
// are split near both ends and at a sample of points in between.
func splits(in []byte) [][][]byte {
	all := [][][]byte{{in}}
	step := 1
	if len(in) > 256 {
		step = len(in) / 64
	}
	for i := 0; i <= len(in); i++ {
		if i > 64 && i < len(in)-64 && i%step != 0 {
			continue
		}
		all = append(all, [][]byte{in[:i], in[i:]})
	}
	if len(in) <= 4096 {
		var single [][]byte
		for i := range in {
			single = append(single, in[i:i+1])
		}
		all = append(all, single)
	}
	return all
}

func TestBodyWriterWire(t *testing.T) {
	tests := []struct {
		name, in, data, bdat string
	}{
		{"empty", "", ".\r\n", ""},
		{"one line", "hello\r\n", "hello\r\n.\r\n", "hello\r\n"},
		{"no final CRLF", "hello", "hello\r\n.\r\n", "hello\r\n"},
		{"bare LF", "a\nb\n", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"bare CR", "a\rb\r", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"CR CR LF", "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n"},
		{"LF CR", "a\n\rb", "a\r\n\r\nb\r\n.\r\n", "a\r\n\r\nb\r\n"},
		{"only CR", "\r", "\r\n.\r\n", "\r\n"},
		{"only LF", "\n", "\r\n.\r\n", "\r\n"},
		{"empty lines", "\r\n\r\n", "\r\n\r\n.\r\n", "\r\n\r\n"},
		{"dot first line", ".", "..\r\n.\r\n", ".\r\n"},
		{"dot line CRLF", ".\r\n", "..\r\n.\r\n", ".\r\n"},
		{"two dots", "..\r\n", "...\r\n.\r\n", "..\r\n"},
		{"dot text", ".hidden\r\nx.y\r\n", "..hidden\r\nx.y\r\n.\r\n", ".hidden\r\nx.y\r\n"},
		{"smuggled end CRLF", "a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"},
		{"smuggled end LF", "\n.\n", "\r\n..\r\n.\r\n", "\r\n.\r\n"},
		{"smuggled end CR", "a\r.\rMAIL FROM:<x@y>\r", "a\r\n..\r\nMAIL FROM:<x@y>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x@y>\r\n"},
		{"mixed endings", "a\r\nb\nc\rd", "a\r\nb\r\nc\r\nd\r\n.\r\n", "a\r\nb\r\nc\r\nd\r\n"},
		{"dot after bare CR", "a\r.b", "a\r\n..b\r\n.\r\n", "a\r\n.b\r\n"},
		{"dot not at start", "a.\r\n", "a.\r\n.\r\n", "a.\r\n"},
		{"tab and controls", "\tx\x01\x7f\r\n", "\tx\x01\x7f\r\n.\r\n", "\tx\x01\x7f\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, pieces := range splits([]byte(tc.in)) {
				for _, mode := range []struct {
					dot  bool
					want string
				}{{true, tc.data}, {false, tc.bdat}} {
					got, _, err := encode(BodyPolicy{}, mode.dot, pieces...)
					if err != nil {
						t.Fatalf("dotStuff=%v pieces %q: %v", mode.dot, pieces, err)
					}
					if string(got) != mode.want {
						t.Fatalf("dotStuff=%v pieces %q:\n got %q\nwant %q", mode.dot, pieces, got, mode.want)
					}
				}
			}
		})
	}
}

func TestBodyWriterPolicyErrors(t *testing.T) {
	long := strings.Repeat("x", DefaultMaxLineLength)
	tests := []struct {
		name    string
		policy  BodyPolicy
		in      string
		wantErr string // "" means accepted
	}{
		{"998 octets", BodyPolicy{}, long + "\r\n", ""},
		{"998 octets then dot-stuffed", BodyPolicy{}, "." + long[1:] + "\r\n", ""},
		{"999 octets", BodyPolicy{}, long + "x\r\n", "line 1 is longer than 998 octets"},
		{"999 octets no CRLF", BodyPolicy{}, "a\r\n" + long + "x", "line 2 is longer than 998 octets"},
		{"999 octets bare LF", BodyPolicy{}, "a\nb\n" + long + "x\n", "line 3 is longer than 998 octets"},
		{"custom limit ok", BodyPolicy{MaxLineLength: 4}, "abcd\r\n", ""},
		{"custom limit", BodyPolicy{MaxLineLength: 4}, "abcd\r\nabcde\r\n", "line 2 is longer than 4 octets"},
		{"unlimited", BodyPolicy{MaxLineLength: -1}, strings.Repeat(long, 3), ""},
		{"NUL", BodyPolicy{}, "a\r\nb\x00c\r\n", "line 2 has a NUL byte"},
		{"NUL with 8BITMIME", BodyPolicy{Allow8Bit: true}, "\x00", "line 1 has a NUL byte"},
		{"8-bit", BodyPolicy{}, "a\nb\nGr\xc3\xbc\xc3\x9fe\n", "line 3 has a byte >= 0x80"},
		{"8-bit allowed", BodyPolicy{Allow8Bit: true}, "Gr\xc3\xbc\xc3\x9fe\n\xff\x80\n", ""},
		{"NUL after 8-bit", BodyPolicy{Allow8Bit: true}, "\xc3\xbc\r\n\xc3\xbc\x00", "line 2 has a NUL byte"},
		{"bare LF rejected", BodyPolicy{RejectBareLineEndings: true}, "a\r\nb\nc", "line 2 has a bare LF"},
		{"bare CR rejected", BodyPolicy{RejectBareLineEndings: true}, "a\r\nb\r\nc\rd", "line 3 has a bare CR"},
		{"final bare CR rejected", BodyPolicy{RejectBareLineEndings: true}, "a\r", "line 1 ends in a bare CR"},
		{"CRLF accepted when strict", BodyPolicy{RejectBareLineEndings: true}, "a\r\n.\r\nb", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, pieces := range splits([]byte(tc.in)) {
				for _, dot := range []bool{true, false} {
					got, _, err := encode(tc.policy, dot, pieces...)
					if tc.wantErr == "" {
						if err != nil {
							t.Fatalf("dotStuff=%v: %v", dot, err)
						}
						want, _ := reference([]byte(tc.in), tc.policy, dot)
						if !bytes.Equal(got, want) {
							t.Fatalf("dotStuff=%v:\n got %q\nwant %q", dot, got, want)
						}
						continue
					}
					if !errors.Is(err, ErrBadMessage) {
						t.Fatalf("dotStuff=%v pieces %q: error %v, want ErrBadMessage", dot, pieces, err)
					}
					if !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("dotStuff=%v pieces %q: error %q, want it to say %q", dot, pieces, err, tc.wantErr)
					}
					if dot && bytes.HasSuffix(got, []byte("\r\n.\r\n")) {
						t.Fatalf("end-of-data mark written despite error: %q", got)
					}
				}
			}
		})
	}
}

// errWriter fails after taking limit bytes.
type errWriter struct {
	limit, n int
	err      error
}

func (w *errWriter) Write(p []byte) (int, error) {
	if w.n+len(p) > w.limit {
		k := w.limit - w.n
		w.n = w.limit
		return k, w.err
	}
	w.n += len(p)
	return len(p), nil
}

func TestBodyWriterErrorSticks(t *testing.T) {
	var out bytes.Buffer
	bw := NewBodyWriter(&out, BodyPolicy{}, true)
	if _, err := bw.Write([]byte("ok\r\n")); err != nil {
		t.Fatal(err)
	}
	n, err := bw.Write([]byte("fine\r\nbad\x00line\r\n"))
	if !errors.Is(err, ErrBadMessage) || n != len("fine\r\nbad") {
		t.Fatalf("Write = %d, %v; want %d, ErrBadMessage", n, err, len("fine\r\nbad"))
	}
	if n, err2 := bw.Write([]byte("more\r\n")); n != 0 || err2 != err {
		t.Fatalf("later Write = %d, %v; want 0, %v", n, err2, err)
	}
	if err2 := bw.Close(); err2 != err {
		t.Fatalf("Close = %v; want %v", err2, err)
	}
	if err2 := bw.Close(); err2 != err {
		t.Fatalf("second Close = %v; want %v", err2, err)
	}
	if bytes.Contains(out.Bytes(), []byte(".\r\n")) {
		t.Fatalf("wrote %q after an error", out.Bytes())
	}
	if s := bw.Stats(); s.BytesIn != int64(4+n) {
		t.Fatalf("BytesIn = %d, want %d", s.BytesIn, 4+n)
	}
}

func TestBodyWriterWriteError(t *testing.T) {
	boom := errors.New("connection reset")
	w := &errWriter{limit: 10, err: boom}
	bw := NewBodyWriter(w, BodyPolicy{MaxLineLength: -1}, true)
	big := bytes.Repeat([]byte("0123456789abcdef\r\n"), 4*bodyBufSize/18)
	_, err := bw.Write(big)
	if err != boom {
		t.Fatalf("Write error = %v, want %v", err, boom)
	}
	if _, err2 := bw.Write([]byte("x")); err2 != boom {
		t.Fatalf("later Write = %v", err2)
	}
	if err2 := bw.Close(); err2 != boom {
		t.Fatalf("Close = %v", err2)
	}
	if s := bw.Stats(); s.BytesOut != 10 {
		t.Fatalf("BytesOut = %d, want 10", s.BytesOut)
	}

	// A short write without an error is an error too (io.Writer contract).
	short := &errWriter{limit: 3}
	bw = NewBodyWriter(short, BodyPolicy{}, true)
	if _, err := bw.Write([]byte("hello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != io.ErrShortWrite {
		t.Fatalf("Close = %v, want io.ErrShortWrite", err)
	}
}

func TestBodyWriterClosed(t *testing.T) {
	var out bytes.Buffer
	bw := NewBodyWriter(&out, BodyPolicy{}, false)
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if _, err := bw.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	if out.Len() != 0 {
		t.Fatalf("empty BDAT body wrote %q", out.Bytes())
	}
}

func TestBodyWriterBinary(t *testing.T) {
	in := []byte("a\rb\nc\x00\xff." + strings.Repeat("y", 5000) + "\n.\r\n.\r")
	for _, pieces := range [][][]byte{{in}, {in[:3], in[3:]}, {in[:len(in)-1], in[len(in)-1:]}} {
		got, st, err := encode(BodyPolicy{Binary: true}, false, pieces...)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, in) {
			t.Fatalf("binary body changed:\n got %q\nwant %q", got, in)
		}
		want := BodyStats{BytesIn: int64(len(in)), BytesOut: int64(len(in)), Lines: 4, Has8Bit: true}
		if st != want {
			t.Fatalf("Stats = %+v, want %+v", st, want)
		}
	}

	// A body larger than the buffer goes through unchanged as well.
	big := bytes.Repeat([]byte{0, '\r', '.', '\n', 0x80}, 3*bodyBufSize)
	got, _, err := encode(BodyPolicy{Binary: true}, false, big[:7], big[7:])
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("large binary body: err %v, equal %v", err, bytes.Equal(got, big))
	}

	var out bytes.Buffer
	bw := NewBodyWriter(&out, BodyPolicy{Binary: true}, true)
	if _, err := bw.Write([]byte("x")); !errors.Is(err, ErrBadInput) {
		t.Fatalf("BINARYMIME over DATA: Write error %v, want ErrBadInput", err)
	}
	if err := bw.Close(); !errors.Is(err, ErrBadInput) {
		t.Fatalf("BINARYMIME over DATA: Close error %v, want ErrBadInput", err)
	}
	if out.Len() != 0 {
		t.Fatalf("BINARYMIME over DATA wrote %q", out.Bytes())
	}
}

func TestBodyWriterStats(t *testing.T) {
	in := "a\nb\r\n.c\r"
	for _, pieces := range splits([]byte(in)) {
		out, st, err := encode(BodyPolicy{Allow8Bit: true}, true, pieces...)
		if err != nil {
			t.Fatal(err)
		}
		want := BodyStats{BytesIn: int64(len(in)), BytesOut: int64(len(out)), Lines: 3}
		if st != want || string(out) != "a\r\nb\r\n..c\r\n.\r\n" {
			t.Fatalf("pieces %q: Stats %+v, out %q", pieces, st, out)
		}
	}
	_, st, err := encode(BodyPolicy{Allow8Bit: true}, false, []byte("x\r\n"), []byte("\xe2\x82\xac"))
	if err != nil || !st.Has8Bit || st.Lines != 2 {
		t.Fatalf("8-bit stats: %+v, %v", st, err)
	}
}

// TestBodyWriterLargeLines covers lines and bodies larger than the internal
// buffer, where output is written in several pieces.
func TestBodyWriterLargeLines(t *testing.T) {
	line := "." + strings.Repeat("z", 3*bodyBufSize)
	in := []byte(line + "\n" + line + "\r\n" + line)
	for _, dot := range []bool{true, false} {
		policy := BodyPolicy{MaxLineLength: -1}
		want, _ := reference(in, policy, dot)
		for _, pieces := range [][][]byte{{in}, {in[:bodyBufSize-1], in[bodyBufSize-1:]}, {in[:len(line)], in[len(line):]}} {
			got, st, err := encode(policy, dot, pieces...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("dotStuff=%v: output differs from reference (len %d vs %d)", dot, len(got), len(want))
			}
			if st.BytesOut != int64(len(want)) || st.Lines != 3 {
				t.Fatalf("Stats = %+v", st)
			}
		}
	}
}

func TestIndexHigh(t *testing.T) {
	for n := 0; n <= 80; n++ {
		if got := indexHigh(bytes.Repeat([]byte{0x7f}, n)); got != -1 {
			t.Fatalf("indexHigh of %d ASCII bytes = %d", n, got)
		}
		for pos := 0; pos < n; pos++ {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				s := bytes.Repeat([]byte{'a'}, n)
				s[pos] = c
				s[n-1] |= 0x80 // a later match must not hide the first
				if got := indexHigh(s); got != pos {
					t.Fatalf("indexHigh(%q) = %d, want %d", s, got, pos)
				}
			}
		}
	}
}

// textPattern is a run of typical text lines, 70 to 80 octets, a few of
// them starting with a dot, each ending in CRLF.
func textPattern(size int, eol string) []byte {
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards quietly hex jolly boxing mail servers relay messages")
	var b bytes.Buffer
	line, w := 0, 0
	for b.Len() < size {
		var l strings.Builder
		if line%40 == 7 {
			l.WriteString(".")
		}
		target := 70 + line%11
		for l.Len() < target {
			l.WriteString(words[w%len(words)])
			w += 3
			if l.Len() < target {
				l.WriteByte(' ')
			}
		}
		b.WriteString(l.String()[:target])
		b.WriteString(eol)
		line++
	}
	return b.Bytes()
}

// patternReader yields the pattern again and again, n bytes in all, without
// holding more than the pattern in memory.
type patternReader struct {
	pattern []byte
	off     int
	left    int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.pattern[r.off:])
		n += c
		r.off = (r.off + c) % len(r.pattern)
	}
	r.left -= int64(n)
	return n, nil
}

// tailSink counts what it is given and keeps the last few bytes.
type tailSink struct {
	n    int64
	tail []byte
}

func (s *tailSink) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	s.tail = append(s.tail, p[max(0, len(p)-8):]...)
	if len(s.tail) > 8 {
		s.tail = append(s.tail[:0], s.tail[len(s.tail)-8:]...)
	}
	return len(p), nil
}

// raceEnabled reports whether the test binary was built with -race, read
// from the build settings the go command records.
func raceEnabled() bool {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" {
				return s.Value == "true"
			}
		}
	}
	return false
}

// TestBodyWriterConstantMemory streams a 256 MiB body, generated on the fly,
// and checks that the encoder allocates almost nothing while doing it. The
// race detector instruments every load of the word-wise scans and makes the
// run about 50 times slower, so under -race the body is 64 MiB: still
// thousands of buffer-fulls, which is what the test is about.
func TestBodyWriterConstantMemory(t *testing.T) {
	size := 256 << 20
	if raceEnabled() {
		size = 64 << 20
	}
	pattern := textPattern(64<<10, "\n")
	// Cut the pattern after its last complete line so that every repeat
	// starts a line.
	pattern = pattern[:bytes.LastIndexByte(pattern, '\n')+1]
	repeats := int64(size / len(pattern))
	lines := int64(bytes.Count(pattern, []byte("\n")))
	dotted := int64(bytes.Count(pattern, []byte("\n."))) // pattern never starts with "."
	if pattern[0] == '.' {
		t.Fatal("pattern starts with a dot; the count above would be wrong")
	}
	total := repeats * int64(len(pattern))

	sink := &tailSink{tail: make([]byte, 0, 16)}
	src := &patternReader{pattern: pattern, left: total}
	copyBuf := make([]byte, 64<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	bw := NewBodyWriter(sink, BodyPolicy{}, true)
	if _, err := io.CopyBuffer(struct{ io.Writer }{bw}, struct{ io.Reader }{src}, copyBuf); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}

	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("encoding %d MiB allocated %d bytes; heap in use %d KiB", total>>20, alloc, after.HeapAlloc>>10)
	if alloc > 1<<20 {
		t.Fatalf("encoding %d MiB allocated %d bytes; want constant memory (< 1 MiB)", total>>20, alloc)
	}
	// Each LF becomes CRLF, each dotted line gains a dot, and the
	// end-of-data mark follows.
	wantOut := total + repeats*(lines+dotted) + 3
	if sink.n != wantOut {
		t.Fatalf("wrote %d bytes, want %d", sink.n, wantOut)
	}
	if !bytes.HasSuffix(sink.tail, []byte("\r\n.\r\n")) {
		t.Fatalf("output ends %q", sink.tail)
	}
	st := bw.Stats()
	if st.BytesIn != total || st.BytesOut != wantOut || st.Lines != repeats*lines || st.Has8Bit {
		t.Fatalf("Stats = %+v", st)
	}
}

func FuzzBodyWriter(f *testing.F) {
	seeds := []string{
		"", ".", "..\r\n", "a\r\n.\r\nb", "\r", "\n.\n", "\r\n.\r\n", ".\r\n.",
		"a\r.\r", "line\rCR\r\nCRLF\nLF", "\x00", "Gr\xc3\xbc\xc3\x9fe\n", "\xff\r\n.",
		strings.Repeat("x", 998) + "\r\n" + strings.Repeat("y", 999),
		strings.Repeat(".a\n", 50),
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint16(i*7), uint8(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16, mode uint8) {
		p := BodyPolicy{
			Allow8Bit:             mode&2 != 0,
			RejectBareLineEndings: mode&4 != 0,
			Binary:                mode&0x30 == 0x30,
		}
		switch mode >> 6 {
		case 0:
			p.MaxLineLength = -1
		case 1:
			p.MaxLineLength = 8
		}
		dot := mode&1 != 0
		cut := int(split) % (len(in) + 1)
		got, st, err := encode(p, dot, in[:cut], in[cut:])
		want, ok := reference(in, p, dot)
		if !ok {
			if err == nil {
				t.Fatalf("policy %+v dotStuff=%v: accepted %q, want an error", p, dot, in)
			}
			if !errors.Is(err, ErrBadMessage) && !errors.Is(err, ErrBadInput) {
				t.Fatalf("error %v wraps neither ErrBadMessage nor ErrBadInput", err)
			}
			// Whatever was written before the error holds no end of data.
			if bytes.Contains(got, []byte("\r\n.\r\n")) || bytes.HasPrefix(got, []byte(".\r\n")) {
				t.Fatalf("end-of-data sequence written despite error: %q", got)
			}
			return
		}
		if err != nil {
			t.Fatalf("policy %+v dotStuff=%v: %q: %v", p, dot, in, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("policy %+v dotStuff=%v split %d: %q\n got %q\nwant %q", p, dot, cut, in, got, want)
		}
		if st.BytesIn != int64(len(in)) || st.BytesOut != int64(len(got)) {
			t.Fatalf("Stats = %+v for %d bytes in, %d out", st, len(in), len(got))
		}
		if p.Binary {
			return
		}
		norm := normalise(in)
		if !dot {
			if !bytes.Equal(got, norm) {
				t.Fatalf("BDAT body %q is not the normalised input %q", got, norm)
			}
			return
		}
		body, uerr := unstuff(got)
		if uerr != nil {
			t.Fatalf("unstuff(%q): %v", got, uerr)
		}
		if !bytes.Equal(body, norm) {
			t.Fatalf("unstuff(%q) = %q, want %q", got, body, norm)
		}
		// RFC 5321 §4.1.1.4: the end-of-data sequence appears exactly once,
		// at the very end.
		if len(norm) == 0 {
			if string(got) != ".\r\n" {
				t.Fatalf("empty body encoded as %q", got)
			}
		} else {
			if bytes.HasPrefix(got, []byte(".\r\n")) {
				t.Fatalf("non-empty body starts with an end-of-data line: %q", got)
			}
			if i := bytes.Index(got, []byte("\r\n.\r\n")); i != len(got)-5 {
				t.Fatalf("end-of-data sequence at %d of %d in %q", i, len(got), got)
			}
		}
	})
}

func benchmarkBody(b *testing.B, body []byte, p BodyPolicy, dotStuff bool) {
	const piece = 32 << 10 // what io.Copy hands over
	bw := NewBodyWriter(io.Discard, p, dotStuff)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bw.Reset(io.Discard, p, dotStuff)
		for off := 0; off < len(body); off += piece {
			if _, err := bw.Write(body[off:min(off+piece, len(body))]); err != nil {
				b.Fatal(err)
			}
		}
		if err := bw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBodyWriter(b *testing.B) {
	crlf := textPattern(4<<20, "\r\n")
	lf := textPattern(4<<20, "\n")
	b.Run("DATA", func(b *testing.B) { benchmarkBody(b, crlf, BodyPolicy{}, true) })
	b.Run("DATA-LF", func(b *testing.B) { benchmarkBody(b, lf, BodyPolicy{}, true) })
	b.Run("DATA-8BITMIME", func(b *testing.B) { benchmarkBody(b, crlf, BodyPolicy{Allow8Bit: true}, true) })
	b.Run("BDAT", func(b *testing.B) { benchmarkBody(b, crlf, BodyPolicy{}, false) })
	b.Run("BDAT-LF", func(b *testing.B) { benchmarkBody(b, lf, BodyPolicy{}, false) })
	b.Run("BDAT-BINARYMIME", func(b *testing.B) { benchmarkBody(b, crlf, BodyPolicy{Binary: true}, false) })
}

// BenchmarkBodyWriterMessage includes the writer's own allocation: one
// message of 1 MiB per operation.
func BenchmarkBodyWriterMessage(b *testing.B) {
	body := textPattern(1<<20, "\r\n")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		bw := NewBodyWriter(io.Discard, BodyPolicy{}, true)
		if _, err := bw.Write(body); err != nil {
			b.Fatal(err)
		}
		if err := bw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// A DATA body: bare line endings become CRLF, a line starting with "." is
// dot-stuffed, and Close adds the missing CRLF and the end-of-data mark.
func ExampleBodyWriter() {
	var wire strings.Builder
	bw := NewBodyWriter(&wire, BodyPolicy{}, true)
	io.WriteString(bw, "Subject: hi\n\n.\nbye")
	if err := bw.Close(); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%q\n", wire.String())
	fmt.Println(bw.Stats().Lines, "lines")
	// Output:
	// "Subject: hi\r\n\r\n..\r\nbye\r\n.\r\n"
	// 4 lines
}

// Without 8BITMIME a byte >= 0x80 stops the body; the error names the line.
func ExampleBodyWriter_policy() {
	bw := NewBodyWriter(io.Discard, BodyPolicy{}, true)
	_, err := io.WriteString(bw, "Hello\r\nGrüße\r\n")
	fmt.Println(err)
	fmt.Println(errors.Is(err, ErrBadMessage))
	// Output:
	// line 2 has a byte >= 0x80 and the transaction is not 8BITMIME: message cannot be sent as it is
	// true
}
