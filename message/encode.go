package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
)

// An encodingReader pulls from src through an encoder that writes to out,
// so that encoded content is read, not pushed, and no goroutine is needed.
// It holds one chunk of input and its encoding at a time.
type encodingReader struct {
	src io.Reader
	enc io.WriteCloser // writes to out
	out bytes.Buffer
	in  []byte
	// lf, if not nil, rewrites each chunk before it is encoded.
	lf  *lfFilter
	eof bool
	err error
}

func (e *encodingReader) Read(p []byte) (int, error) {
	for e.out.Len() == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.eof {
			return 0, io.EOF
		}
		n, err := e.src.Read(e.in)
		chunk := e.in[:n]
		if e.lf != nil {
			chunk = e.lf.apply(chunk)
		}
		// The encoders write to a bytes.Buffer, which does not fail.
		_, _ = e.enc.Write(chunk)
		switch {
		case err == io.EOF:
			_ = e.enc.Close()
			e.eof = true
		case err != nil:
			e.err = err
		}
	}
	return e.out.Read(p)
}

// newQPReader encodes src as quoted-printable text (RFC 2045 §6.7): line
// breaks (CRLF, LF or a lone CR) become CRLF, lines are at most 76
// characters, and white space at the end of a line is encoded.
func newQPReader(src io.Reader) io.Reader {
	e := &encodingReader{src: src, in: make([]byte, chunkSize), lf: new(lfFilter)}
	e.enc = quotedprintable.NewWriter(&e.out)
	return e
}

// An lfFilter turns CRLF and a lone CR into LF, carrying a CR at the end of
// one chunk over to the next. The quotedprintable.Writer makes every LF a
// CRLF line break; given a lone CR followed by an encoded octet and an LF
// it would drop the second line break, so it is only given LF.
type lfFilter struct {
	cr bool // the previous chunk ended in CR
}

// apply rewrites b in place and returns the shortened slice.
func (f *lfFilter) apply(b []byte) []byte {
	out := b[:0]
	for _, c := range b {
		if f.cr {
			f.cr = false
			if c == '\n' {
				continue
			}
		}
		if c == '\r' {
			f.cr = true
			c = '\n'
		}
		out = append(out, c)
	}
	return out
}

// newBase64Reader encodes src as base64 (RFC 2045 §6.8) in lines of 76
// characters ended by CRLF, with no line ending after the last line: the
// CRLF before the next boundary delimiter belongs to the delimiter
// (RFC 2046 §5.1.1).
func newBase64Reader(src io.Reader) io.Reader {
	e := &encodingReader{src: src, in: make([]byte, chunkSize)}
	e.enc = base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: &e.out})
	return e
}

// base64LineLength is the longest base64 line (RFC 2045 §6.8).
const base64LineLength = 76

// lineWrapper breaks what it writes into lines of base64LineLength,
// putting CRLF before a character that would start a new line.
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if l.col == base64LineLength {
			if _, err := l.w.Write(crlf); err != nil {
				return n, err
			}
			l.col = 0
		}
		k := min(base64LineLength-l.col, len(p))
		m, err := l.w.Write(p[:k])
		n += m
		l.col += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}
