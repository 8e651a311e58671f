package smtp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

type chunk struct {
	data string
	last bool
}

// chunks writes the pieces through a ChunkWriter and records the chunks,
// copying each because it is only valid during the call.
func chunks(t *testing.T, size int, pieces ...string) []chunk {
	t.Helper()
	var got []chunk
	cw := NewChunkWriter(size, func(b []byte, last bool) error {
		got = append(got, chunk{string(b), last})
		return nil
	})
	for _, p := range pieces {
		if n, err := cw.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if cap(cw.buf) > size {
		t.Fatalf("buffer grew to %d bytes for chunks of %d", cap(cw.buf), size)
	}
	return got
}

func TestChunkWriterBoundaries(t *testing.T) {
	tests := []struct {
		name string
		size int
		in   string
		want []chunk
	}{
		{"empty message", 4, "", []chunk{{"", true}}},
		{"short", 4, "ab", []chunk{{"ab", true}}},
		{"one full chunk", 4, "abcd", []chunk{{"abcd", true}}},
		{"full chunk and a byte", 4, "abcde", []chunk{{"abcd", false}, {"e", true}}},
		{"three exact chunks", 4, "abcdefghijkl", []chunk{{"abcd", false}, {"efgh", false}, {"ijkl", true}}},
		{"partial last", 4, "abcdefghij", []chunk{{"abcd", false}, {"efgh", false}, {"ij", true}}},
		{"size one", 1, "abc", []chunk{{"a", false}, {"b", false}, {"c", true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The same chunks however the input is split into writes.
			ways := [][]string{{tc.in}}
			for i := 0; i <= len(tc.in); i++ {
				ways = append(ways, []string{tc.in[:i], tc.in[i:]})
			}
			ways = append(ways, strings.Split(tc.in, ""))
			for _, pieces := range ways {
				got := chunks(t, tc.size, pieces...)
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Fatalf("pieces %q: chunks %+v, want %+v", pieces, got, tc.want)
				}
			}
		})
	}
}

// TestChunkWriterRandom checks the chunking rules on random bodies and
// random write sizes: the chunks concatenate to the body, every chunk but
// the last is full, and the last is empty only for an empty body.
func TestChunkWriterRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		size := 1 + r.IntN(64)
		body := make([]byte, r.IntN(400))
		for i := range body {
			body[i] = byte(r.IntN(256))
		}
		var pieces []string
		for rest := body; len(rest) > 0; {
			k := min(len(rest), r.IntN(3*size))
			pieces = append(pieces, string(rest[:k]))
			rest = rest[k:]
		}
		got := chunks(t, size, pieces...)
		var all strings.Builder
		for i, c := range got {
			all.WriteString(c.data)
			isLast := i == len(got)-1
			if c.last != isLast {
				t.Fatalf("size %d, body %d: chunk %d of %d has last=%v", size, len(body), i, len(got), c.last)
			}
			if !isLast && len(c.data) != size {
				t.Fatalf("size %d: chunk %d has %d bytes", size, i, len(c.data))
			}
			if isLast && (len(c.data) > size || (len(c.data) == 0) != (len(body) == 0)) {
				t.Fatalf("size %d, body %d: last chunk has %d bytes", size, len(body), len(c.data))
			}
		}
		if all.String() != string(body) {
			t.Fatalf("size %d: chunks do not add up to the body", size)
		}
	}
}

func TestChunkWriterErrorSticks(t *testing.T) {
	boom := errors.New("BDAT refused")
	calls := 0
	cw := NewChunkWriter(4, func(b []byte, last bool) error {
		calls++
		if calls == 2 {
			return boom
		}
		return nil
	})
	n, err := cw.Write([]byte("abcdefghijkl"))
	if err != boom || n != 4 {
		t.Fatalf("Write = %d, %v; want 4, %v", n, err, boom)
	}
	if n, err := cw.Write([]byte("x")); n != 0 || err != boom {
		t.Fatalf("later Write = %d, %v", n, err)
	}
	if err := cw.Close(); err != boom {
		t.Fatalf("Close = %v", err)
	}
	if err := cw.Close(); err != boom {
		t.Fatalf("second Close = %v", err)
	}
	if calls != 2 {
		t.Fatalf("emit called %d times, want 2", calls)
	}

	// An error from the last chunk is Close's error.
	cw = NewChunkWriter(4, func([]byte, bool) error { return boom })
	if _, err := cw.Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != boom {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
}

func TestChunkWriterClosed(t *testing.T) {
	calls := 0
	cw := NewChunkWriter(0, func(b []byte, last bool) error {
		calls++
		return nil
	})
	if cw.size != DefaultChunkSize {
		t.Fatalf("size = %d, want DefaultChunkSize", cw.size)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil || calls != 1 {
		t.Fatalf("second Close = %v, emit called %d times", err, calls)
	}
	if _, err := cw.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
	// Reset makes a closed writer usable for the next message.
	var got []chunk
	cw.Reset(func(b []byte, last bool) error {
		got = append(got, chunk{string(b), last})
		return nil
	})
	if _, err := cw.Write([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil || len(got) != 1 || got[0] != (chunk{"next", true}) {
		t.Fatalf("after Reset: chunks %+v, Close %v", got, err)
	}
	if _, err := cw.Write([]byte("x")); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// TestChunkWriterBodyWriter is the BDAT path as a client builds it: the body
// encoder writing into the chunker.
func TestChunkWriterBodyWriter(t *testing.T) {
	var wire bytes.Buffer
	cw := NewChunkWriter(8, func(b []byte, last bool) error {
		fmt.Fprintf(&wire, "BDAT %d", len(b))
		if last {
			wire.WriteString(" LAST")
		}
		wire.WriteString("\r\n")
		wire.Write(b)
		return nil
	})
	bw := NewBodyWriter(cw, BodyPolicy{}, false)
	if _, err := io.WriteString(bw, "Subject: x\n\n.hi\n"); err != nil {
		t.Fatal(err)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	want := "BDAT 8\r\nSubject:" + "BDAT 8\r\n x\r\n\r\n.h" + "BDAT 3 LAST\r\ni\r\n"
	if wire.String() != want {
		t.Fatalf("wire:\n got %q\nwant %q", wire.String(), want)
	}
}

func TestChunkWriterAllocs(t *testing.T) {
	cw := NewChunkWriter(64<<10, func([]byte, bool) error { return nil })
	piece := make([]byte, 10<<10)
	// Fill the buffer to its full size first; after that nothing allocates.
	for range 10 {
		if _, err := cw.Write(piece); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := cw.Write(piece); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Write allocates %.1f times per call in steady state", allocs)
	}
}

func BenchmarkChunkWriter(b *testing.B) {
	piece := make([]byte, 32<<10)
	const message = 8 << 20
	cw := NewChunkWriter(DefaultChunkSize, func([]byte, bool) error { return nil })
	b.SetBytes(message)
	b.ReportAllocs()
	for b.Loop() {
		cw.Reset(cw.emit)
		for range message / len(piece) {
			if _, err := cw.Write(piece); err != nil {
				b.Fatal(err)
			}
		}
		if err := cw.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BDAT: the body encoder feeds the chunker, which hands out commands and
// their data; the final chunk carries LAST.
func ExampleChunkWriter() {
	cw := NewChunkWriter(16, func(chunk []byte, last bool) error {
		if last {
			fmt.Printf("BDAT %d LAST %q\n", len(chunk), chunk)
		} else {
			fmt.Printf("BDAT %d %q\n", len(chunk), chunk)
		}
		return nil
	})
	bw := NewBodyWriter(cw, BodyPolicy{}, false)
	io.WriteString(bw, "Subject: test\n\nHello, world\n")
	if err := bw.Close(); err != nil {
		fmt.Println(err)
	}
	if err := cw.Close(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// BDAT 16 "Subject: test\r\n\r"
	// BDAT 15 LAST "\nHello, world\r\n"
}
