package message

import (
	"bufio"
	"encoding/base64"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// heapBound is the most heap a message of any size may use while it is
// streamed.
const heapBound = 16 << 20

// lineSource produces size octets of text lines without holding them, and
// the CRC-32 of what it produced.
type lineSource struct {
	remaining int64
	line      []byte
	off       int
	crc       uint32
}

func newLineSource(size int64) *lineSource {
	return &lineSource{remaining: size, line: []byte("The quick brown fox jumps over the lazy dog. 0123456789\n")}
}

func (s *lineSource) Read(p []byte) (int, error) {
	if s.remaining == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.remaining)]
	n := 0
	for n < len(p) {
		k := copy(p[n:], s.line[s.off:])
		n += k
		s.off = (s.off + k) % len(s.line)
	}
	s.remaining -= int64(n)
	s.crc = crc32.Update(s.crc, crc32.IEEETable, p[:n])
	return n, nil
}

// heapWatcher is an io.Writer that records the largest heap seen while
// data flows through it, sampling every few MiB.
type heapWatcher struct {
	t        *testing.T
	w        io.Writer
	written  int64
	next     int64
	maxHeap  uint64
	samples  int
	memStats runtime.MemStats
}

func newHeapWatcher(t *testing.T, w io.Writer) *heapWatcher {
	runtime.GC()
	h := &heapWatcher{t: t, w: w}
	h.sample()
	return h
}

func (h *heapWatcher) sample() {
	runtime.ReadMemStats(&h.memStats)
	h.maxHeap = max(h.maxHeap, h.memStats.HeapAlloc)
	h.samples++
}

func (h *heapWatcher) Write(p []byte) (int, error) {
	h.written += int64(len(p))
	if h.written >= h.next {
		h.sample()
		h.next = h.written + 4<<20
	}
	return h.w.Write(p)
}

func (h *heapWatcher) check(wantWritten int64) {
	h.t.Helper()
	h.sample()
	h.t.Logf("%d MiB streamed, largest heap %.1f MiB over %d samples", h.written>>20, float64(h.maxHeap)/(1<<20), h.samples)
	if h.written < wantWritten {
		h.t.Errorf("streamed %d octets, want at least %d", h.written, wantWritten)
	}
	if h.maxHeap > heapBound {
		h.t.Errorf("heap reached %d octets, bound %d", h.maxHeap, heapBound)
	}
}

// TestNewReaderStreams sends a 256 MiB body through ReadHeader, Prepare and
// NewReader and checks that memory stays bounded and the body arrives
// unchanged.
func TestNewReaderStreams(t *testing.T) {
	const size = 256 << 20
	header := "From: root\nTo: root\nBcc: hidden@example.org\nSubject: big\n\n"
	src := newLineSource(size)
	br := bufio.NewReader(io.MultiReader(strings.NewReader(header), src))
	h, err := ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	if err := (Prepare{StripBcc: true, AddDate: true, AddMessageID: true, MessageIDDomain: "example.org"}).Apply(h); err != nil {
		t.Fatal(err)
	}
	headerSize := h.Size()
	crc := crc32.NewIEEE()
	w := newHeapWatcher(t, io.Discard)
	// Everything after the header goes through the CRC.
	sink := &splitWriter{skip: headerSize, rest: crc}
	w.w = sink
	if _, err := io.Copy(w, DotTerminated(NewReader(h, br))); err != nil {
		t.Fatal(err)
	}
	w.check(size + headerSize)
	if crc.Sum32() != src.crc {
		t.Error("body changed on the way")
	}
}

// splitWriter drops the first skip octets and writes the rest to rest.
type splitWriter struct {
	skip int64
	rest io.Writer
}

func (s *splitWriter) Write(p []byte) (int, error) {
	n := len(p)
	if s.skip > 0 {
		k := min(s.skip, int64(len(p)))
		s.skip -= k
		p = p[k:]
	}
	_, err := s.rest.Write(p)
	return n, err
}

// TestComposeStreams composes a message with a body of unknown size far
// beyond the read-ahead and a 64 MiB attachment, and checks that memory
// stays bounded while it is read, and that both arrive intact.
func TestComposeStreams(t *testing.T) {
	const bodySize, fileSize = 8 << 20, 64 << 20
	path := filepath.Join(t.TempDir(), "big.bin")
	fileCRC := writeBigFile(t, path, fileSize)

	body := newLineSource(bodySize)
	c := &Composition{
		From:        &mail.Address{Address: "me@example.org"},
		To:          []*mail.Address{{Address: "you@example.org"}},
		Subject:     "big",
		Body:        body,
		Attachments: []Attachment{{Path: path}},
	}
	m, err := c.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// The message is parsed back as it is produced, through a pipe.
	pr, pw := io.Pipe()
	type result struct {
		bodyCRC, fileCRC uint32
		err              error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() { _, _ = io.Copy(io.Discard, pr); done <- res }()
		msg, err := mail.ReadMessage(pr)
		if err != nil {
			res.err = err
			return
		}
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		if err != nil {
			res.err = err
			return
		}
		mr := multipart.NewReader(msg.Body, params["boundary"])
		for i := 0; i < 2; i++ {
			p, err := mr.NextPart() // decodes quoted-printable itself
			if err != nil {
				res.err = err
				return
			}
			var r io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "base64" {
				r = base64.NewDecoder(base64.StdEncoding, p)
			}
			crc := crc32.NewIEEE()
			if _, err := io.Copy(crc, r); err != nil {
				res.err = err
				return
			}
			if i == 0 {
				res.bodyCRC = crc.Sum32()
			} else {
				res.fileCRC = crc.Sum32()
			}
		}
	}()
	w := newHeapWatcher(t, pw)
	_, err = io.Copy(w, m)
	pw.CloseWithError(err)
	if err != nil {
		t.Fatal(err)
	}
	w.check(bodySize + fileSize)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The text part's line breaks become CRLF (RFC 2046 §4.1.1).
	if want := crlfCRC(bodySize); res.bodyCRC != want {
		t.Error("body changed on the way")
	}
	if res.fileCRC != fileCRC {
		t.Error("attachment changed on the way")
	}
}

// crlfCRC is the CRC-32 of newLineSource(size) with LF turned into CRLF.
func crlfCRC(size int64) uint32 {
	src := newLineSource(size)
	crc := crc32.NewIEEE()
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 2*len(buf))
	for {
		n, err := src.Read(buf)
		out = out[:0]
		for _, c := range buf[:n] {
			if c == '\n' {
				out = append(out, '\r')
			}
			out = append(out, c)
		}
		crc.Write(out)
		if err != nil {
			return crc.Sum32()
		}
	}
}

// writeBigFile writes size pseudo-random octets to path and returns their
// CRC-32.
func writeBigFile(t *testing.T, path string, size int) uint32 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(rng.Uint32())
	}
	crc := crc32.NewIEEE()
	w := io.MultiWriter(f, crc)
	for i := 0; i < size/len(block); i++ {
		block[0] = byte(i) // no two blocks alike
		if _, err := w.Write(block); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return crc.Sum32()
}
