package message

import (
	"bufio"
	"bytes"
	"io"
)

// DotTerminated returns a reader that yields r up to, and not including, the
// first line that is exactly "." ended by LF or CRLF, or a final "." with no
// line ending. This is sendmail's reading of standard input without -i or
// -oi, as Postfix's sendmail does it. A line ".." or ". " is data and passes
// unchanged: there is no dot-stuffing to undo here (the smtp package adds
// DATA transparency, RFC 5321 §4.5.2, itself).
//
// The reader streams: it holds at most one bufio.Reader buffer and never
// reads past the terminating line's buffer fill. When r has no such line,
// all of r is returned.
func DotTerminated(r io.Reader) io.Reader {
	return &dotReader{br: bufio.NewReader(r), bol: true}
}

type dotReader struct {
	br   *bufio.Reader
	bol  bool // at the start of a line
	done bool
	err  error
}

// isTerminator reports whether p, the start of a line, is the end mark:
// ".\n", ".\r\n", or "." or ".\r" followed by the end of input. eof says
// whether p holds everything left.
func isTerminator(p []byte, eof bool) (term, undecided bool) {
	switch {
	case len(p) == 0 || p[0] != '.':
		return false, false
	case len(p) == 1:
		return eof, !eof
	case p[1] == '\n':
		return true, false
	case p[1] != '\r':
		return false, false
	case len(p) == 2:
		return eof, !eof
	default:
		return p[2] == '\n', false
	}
}

func (d *dotReader) Read(p []byte) (int, error) {
	if d.done {
		return 0, io.EOF
	}
	if d.err != nil {
		return 0, d.err
	}
	n := 0
	for n < len(p) {
		// Once something can be returned, do not wait for more input.
		if n > 0 && (d.br.Buffered() == 0 || d.bol && d.br.Buffered() < 3) {
			return n, nil
		}
		if d.bol {
			peek, err := d.br.Peek(3)
			term, undecided := isTerminator(peek, err == io.EOF)
			if term {
				d.done = true
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			}
			if undecided || len(peek) == 0 {
				// Peek returns fewer than 3 octets only with an error.
				d.err = err
				return n, err
			}
		} else if d.br.Buffered() == 0 {
			if _, err := d.br.Peek(1); err != nil {
				d.err = err
				return n, err
			}
		}
		chunk, _ := d.br.Peek(min(d.br.Buffered(), len(p)-n))
		// Only a line that starts with "." needs a closer look: copy up to
		// the next one in a single step.
		if i := bytes.Index(chunk, []byte("\n.")); i >= 0 {
			chunk = chunk[:i+1]
			d.bol = true
		} else {
			d.bol = len(chunk) > 0 && chunk[len(chunk)-1] == '\n'
		}
		n += copy(p[n:], chunk)
		_, _ = d.br.Discard(len(chunk))
	}
	return n, nil
}
