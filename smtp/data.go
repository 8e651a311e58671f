package smtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// DefaultMaxLineLength is the longest text line, in octets without its CRLF,
// that a client may send: RFC 5321 §4.5.3.1.6 allows 1000 octets including
// the CRLF, not counting the dot added for transparency.
const DefaultMaxLineLength = 998

// bodyBufSize bounds the output a [BodyWriter] holds before writing it on:
// large enough that the connection sees few, big writes, small enough that a
// message of any size streams in constant memory.
const bodyBufSize = 32 << 10

// BodyPolicy says what a message body may contain on this transaction.
type BodyPolicy struct {
	// Allow8Bit is set when the transaction uses BODY=8BITMIME (RFC 6152).
	// Otherwise a byte >= 0x80 is an error: RFC 5321 §2.4 limits the body
	// to 7-bit US-ASCII.
	Allow8Bit bool
	// Binary is set for BODY=BINARYMIME over BDAT (RFC 3030 §3): bytes pass
	// unchanged, with no line-ending normalisation, no line length limit and
	// NUL allowed. It cannot be combined with dot-stuffing, because
	// BINARYMIME is only defined for BDAT.
	Binary bool
	// MaxLineLength is the longest line in octets, excluding CRLF. Zero
	// means [DefaultMaxLineLength]; a negative value means unlimited.
	MaxLineLength int
	// RejectBareLineEndings makes a bare CR or bare LF an error instead of
	// being normalised to CRLF (RFC 5321 §2.3.8: only CRLF ends a line).
	RejectBareLineEndings bool
}

// BodyStats counts what a [BodyWriter] has done so far.
type BodyStats struct {
	// BytesIn is the number of octets accepted from the caller.
	BytesIn int64
	// BytesOut is the number of octets written to the underlying writer,
	// the end-of-data mark included. Up to 32 KiB of output is held back
	// until Close.
	BytesOut int64
	// Lines is the number of complete lines in the body as sent; after
	// Close it includes a last line that Close completed. The end-of-data
	// mark is not a line.
	Lines int64
	// Has8Bit reports that a byte >= 0x80 was accepted (with Allow8Bit or
	// Binary).
	Has8Bit bool
}

// BodyWriter encodes a message body for the DATA (RFC 5321 §4.1.1.4) or BDAT
// (RFC 3030) command as it streams through: bare CR and bare LF become CRLF
// (or are refused), lines beginning with "." are dot-stuffed for DATA, and
// the body is checked against a [BodyPolicy]. It holds at most a small,
// fixed buffer, so a message of any size goes through in constant memory.
//
// The first error (a policy violation wrapping [ErrBadMessage], or a write
// error from the underlying writer) is returned by every later Write and
// Close. After an error the transaction must be abandoned without sending
// the end of data: the bytes written so far may end inside a line.
type BodyWriter struct {
	w         io.Writer
	buf       []byte // pending output, never grown past bodyBufSize
	maxLine   int64  // negative: unlimited
	allow8    bool
	binary    bool
	reject    bool
	dotStuff  bool
	lineLen   int64 // content octets of the current line so far
	pendingCR bool  // the last byte seen was a CR; the next byte decides if it was bare
	closed    bool
	err       error
	stats     BodyStats
}

// Constant output pieces, kept as variables so that passing them on to the
// underlying writer does not allocate.
var (
	crlf       = []byte("\r\n")
	stuffedDot = []byte(".")
	endOfData  = []byte(".\r\n")
)

var errBodyClosed = errors.New("smtp: write to a closed BodyWriter")

// NewBodyWriter returns a [BodyWriter] that writes the encoded body to w.
// With dotStuff (the DATA command) lines starting with "." get another "."
// (RFC 5321 §4.5.2) and Close writes the end-of-data mark; without it (BDAT)
// the body is sent as normalised, with no transparency and no mark
// (RFC 3030 §2). Binary with dotStuff is refused: every Write and Close
// returns an error wrapping [ErrBadInput].
func NewBodyWriter(w io.Writer, p BodyPolicy, dotStuff bool) *BodyWriter {
	b := &BodyWriter{}
	b.Reset(w, p, dotStuff)
	return b
}

// Reset discards all state and makes b encode a new body to w, keeping its
// buffer: a batch of messages on one connection allocates it once.
func (b *BodyWriter) Reset(w io.Writer, p BodyPolicy, dotStuff bool) {
	buf := b.buf[:0]
	if buf == nil {
		buf = make([]byte, 0, bodyBufSize)
	}
	*b = BodyWriter{
		w:        w,
		buf:      buf,
		maxLine:  int64(p.MaxLineLength),
		allow8:   p.Allow8Bit,
		binary:   p.Binary,
		reject:   p.RejectBareLineEndings,
		dotStuff: dotStuff,
	}
	if p.MaxLineLength == 0 {
		b.maxLine = DefaultMaxLineLength
	}
	if p.Binary && dotStuff {
		// RFC 3030 §3: BINARYMIME MUST be sent with BDAT, never DATA.
		b.err = fmt.Errorf("BINARYMIME body cannot be sent with DATA, only with BDAT: %w", ErrBadInput)
	}
}

// Stats reports what the writer has done so far.
func (b *BodyWriter) Stats() BodyStats { return b.stats }

// Write encodes p. On a policy violation it returns the number of bytes of
// p accepted before the offending byte and an error wrapping
// [ErrBadMessage] that names the line.
func (b *BodyWriter) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.closed {
		return 0, errBodyClosed
	}
	var n int
	var err error
	if b.binary {
		n, err = b.writeBinary(p)
	} else {
		n, err = b.writeText(p)
	}
	b.stats.BytesIn += int64(n)
	if err != nil {
		b.err = err
	}
	return n, err
}

// Close completes the last line with CRLF if the body did not end with one
// (for DATA, RFC 5321 §4.1.1.4: the end-of-data mark follows a CRLF), writes
// the end-of-data mark ".\r\n" when dot-stuffing, and writes out everything
// still buffered. It does not close the underlying writer. A BINARYMIME body
// is left exactly as given. Calling Close again returns the same result.
func (b *BodyWriter) Close() error {
	if b.closed || b.err != nil {
		b.closed = true
		return b.err
	}
	b.closed = true
	if err := b.finish(); err != nil {
		b.err = err
		return err
	}
	return nil
}

func (b *BodyWriter) finish() error {
	switch {
	case b.binary:
		if b.lineLen > 0 {
			b.stats.Lines++
		}
	case b.pendingCR:
		b.pendingCR = false
		if b.reject {
			return b.lineErr("ends in a bare CR")
		}
		if err := b.endLine(); err != nil {
			return err
		}
	case b.lineLen > 0:
		if err := b.endLine(); err != nil {
			return err
		}
	}
	if b.dotStuff {
		// RFC 5321 §4.1.1.4: the data ends with a line holding only ".".
		if err := b.out(endOfData); err != nil {
			return err
		}
	}
	return b.flush()
}

func (b *BodyWriter) writeBinary(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !b.stats.Has8Bit && indexHigh(p) >= 0 {
		b.stats.Has8Bit = true
	}
	b.stats.Lines += int64(bytes.Count(p, crlf[1:]))
	if p[len(p)-1] == '\n' {
		b.lineLen = 0
	} else {
		b.lineLen = 1 // only "inside a line or not" matters for counting
	}
	if err := b.out(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// writeText normalises line endings, enforces the policy and dot-stuffs.
// A NUL or a forbidden 8-bit byte is found for the whole of p first, with
// fast scans, so that the line loop only has CR, LF and "." to look for.
func (b *BodyWriter) writeText(p []byte) (int, error) {
	i := 0
	if b.pendingCR && len(p) > 0 {
		// A CR ended the previous Write: with an LF here it is one CRLF.
		b.pendingCR = false
		if p[0] == '\n' {
			i = 1
		} else if b.reject {
			return 0, b.lineErr("has a bare CR")
		}
		if err := b.endLine(); err != nil {
			return 0, err
		}
	}
	k := bytes.IndexByte(p[i:], 0)
	if !b.stats.Has8Bit {
		s := p[i:]
		if k >= 0 {
			s = s[:k]
		}
		if h := indexHigh(s); h >= 0 {
			if b.allow8 {
				b.stats.Has8Bit = true
			} else {
				k = h
			}
		}
	}
	if k < 0 {
		return b.writeLines(p, i)
	}
	// Everything before the offending byte is encoded (and checked) first,
	// so that the error names the right line, or an earlier error wins.
	k += i
	if n, err := b.writeLines(p[:k], i); err != nil {
		return n, err
	}
	if b.pendingCR {
		// The CR before the offending byte is bare.
		b.pendingCR = false
		if b.reject {
			return k - 1, b.lineErr("has a bare CR")
		}
		if err := b.endLine(); err != nil {
			return k, err
		}
	}
	if p[k] == 0 {
		// RFC 2045 §2.7, §2.8: neither 7bit nor 8bit data may hold NUL;
		// only BINARYMIME (RFC 3030 §3) may.
		return k, b.lineErr("has a NUL byte")
	}
	// RFC 5321 §2.4: without 8BITMIME (RFC 6152) the body is 7-bit.
	return k, b.lineErr("has a byte >= 0x80 and the transaction is not 8BITMIME")
}

// writeLines encodes p[i:], which holds no NUL and no forbidden byte. Input
// that needs no change (CRLF line endings, lines not starting with ".") is
// copied on in runs as long as p, so the cost per line is finding its end.
func (b *BodyWriter) writeLines(p []byte, i int) (int, error) {
	run := i // p[run:i] is pending output, unchanged from the input
	for i < len(p) {
		end := len(p) // end of this line's content in p
		if k := indexLineEnd(p[i:]); k >= 0 {
			end = i + k
		}
		if end > i {
			// RFC 5321 §4.5.3.1.6: the limit excludes the CRLF and the
			// dot added for transparency.
			if b.maxLine >= 0 && int64(end-i) > b.maxLine-b.lineLen {
				return i, b.lineErr(fmt.Sprintf("is longer than %d octets", b.maxLine))
			}
			if b.lineLen == 0 && b.dotStuff && p[i] == '.' {
				// RFC 5321 §4.5.2: a line that starts with "." gets
				// another, so that no line of the body reads ".".
				if err := b.out(p[run:i]); err != nil {
					return i, err
				}
				if err := b.out(stuffedDot); err != nil {
					return i, err
				}
				run = i
			}
			b.lineLen += int64(end - i)
		}
		if end == len(p) {
			break
		}
		if p[end] == '\r' {
			if end+1 == len(p) {
				// The next Write decides whether this CR is bare.
				b.pendingCR = true
				if err := b.out(p[run:end]); err != nil {
					return end, err
				}
				return len(p), nil
			}
			if p[end+1] == '\n' {
				// CRLF goes out as it came, within the run.
				i = end + 2
				b.lineLen = 0
				b.stats.Lines++
				continue
			}
			if b.reject {
				return end, b.lineErr("has a bare CR")
			}
		} else if b.reject {
			return end, b.lineErr("has a bare LF")
		}
		// RFC 5321 §2.3.8: lines end in CRLF only; a bare CR or LF
		// becomes one.
		if err := b.out(p[run:end]); err != nil {
			return end, err
		}
		if err := b.endLine(); err != nil {
			return end, err
		}
		i = end + 1
		run = i
	}
	if err := b.out(p[run:]); err != nil {
		return run, err
	}
	return len(p), nil
}

func (b *BodyWriter) endLine() error {
	b.lineLen = 0
	b.stats.Lines++
	return b.out(crlf)
}

func (b *BodyWriter) lineErr(what string) error {
	return fmt.Errorf("line %d %s: %w", b.stats.Lines+1, what, ErrBadMessage)
}

// out appends s to the buffer, writing the buffer on when it fills. A piece
// at least as large as the buffer goes straight to the writer.
func (b *BodyWriter) out(s []byte) error {
	if len(s) <= cap(b.buf)-len(b.buf) {
		b.buf = append(b.buf, s...)
		return nil
	}
	for len(s) > 0 {
		if len(b.buf) == cap(b.buf) {
			if err := b.flush(); err != nil {
				return err
			}
		}
		if len(b.buf) == 0 && len(s) >= cap(b.buf) {
			return b.writeOut(s)
		}
		n := copy(b.buf[len(b.buf):cap(b.buf)], s)
		b.buf = b.buf[:len(b.buf)+n]
		s = s[n:]
	}
	return nil
}

func (b *BodyWriter) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	err := b.writeOut(b.buf)
	b.buf = b.buf[:0]
	return err
}

func (b *BodyWriter) writeOut(s []byte) error {
	n, err := b.w.Write(s)
	b.stats.BytesOut += int64(n)
	if err == nil && n < len(s) {
		err = io.ErrShortWrite
	}
	return err
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	crs   = 0x0d0d0d0d0d0d0d0d
	lfs   = 0x0a0a0a0a0a0a0a0a
)

// indexLineEnd returns the index of the first CR or LF in s, or -1. It
// tests eight bytes at a time: (v-ones)&^v has the top bit set in the
// lowest zero byte of v (bits above it may be spurious), so the lowest bit
// set in the union for v = x^crs and v = x^lfs marks the first match.
func indexLineEnd(s []byte) int {
	i := 0
	for len(s) >= 16 {
		x, y := binary.LittleEndian.Uint64(s), binary.LittleEndian.Uint64(s[8:])
		xc, xl, yc, yl := x^crs, x^lfs, y^crs, y^lfs
		if m := ((xc-ones)&^xc | (xl-ones)&^xl) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		if m := ((yc-ones)&^yc | (yl-ones)&^yl) & highs; m != 0 {
			return i + 8 + bits.TrailingZeros64(m)/8
		}
		s = s[16:]
		i += 16
	}
	for j, c := range s {
		if c == '\r' || c == '\n' {
			return i + j
		}
	}
	return -1
}

// indexHigh returns the index of the first byte >= 0x80 in s, or -1. It
// tests 32 bytes per step while none is found.
func indexHigh(s []byte) int {
	i := 0
	for len(s) >= 32 {
		w := binary.LittleEndian.Uint64(s) | binary.LittleEndian.Uint64(s[8:]) |
			binary.LittleEndian.Uint64(s[16:]) | binary.LittleEndian.Uint64(s[24:])
		if w&highs != 0 {
			break
		}
		s = s[32:]
		i += 32
	}
	for len(s) >= 8 {
		if m := binary.LittleEndian.Uint64(s) & highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		s = s[8:]
		i += 8
	}
	for j, c := range s {
		if c >= 0x80 {
			return i + j
		}
	}
	return -1
}
