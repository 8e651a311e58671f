package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Bounds on the header section [ReadHeader] accepts. They keep memory use
// bounded whatever the input; the body that follows is never held.
const (
	// MaxHeaderBytes bounds the header section in octets, including line
	// endings and the empty line that ends it.
	MaxHeaderBytes = 1 << 20
	// MaxHeaderFields bounds the number of header fields.
	MaxHeaderFields = 10000
)

// foldWidth is the line length added fields are folded to. RFC 5322 §2.1.1
// says lines SHOULD be no more than 78 characters, excluding the CRLF, and
// RFC 2047 §2 limits a line holding an encoded word to 76.
const foldWidth = 76

var crlf = []byte("\r\n")

// A Field is one header field as it was read or added: its name, the colon,
// its value and every line ending, including those of continuation lines
// (RFC 5322 §2.2).
type Field struct {
	raw []byte
}

// Name is the field name as written, without the white space that the
// obsolete syntax allows before the colon (RFC 5322 §4.5).
func (f Field) Name() string {
	i := bytes.IndexByte(f.raw, ':')
	if i < 0 {
		return ""
	}
	return strings.TrimRight(string(f.raw[:i]), " \t")
}

// Value is the field body unfolded (RFC 5322 §2.2.3: each line ending
// before white space is removed), without leading and trailing white space.
// Encoded words (RFC 2047) are not decoded.
func (f Field) Value() string {
	i := bytes.IndexByte(f.raw, ':')
	if i < 0 {
		return ""
	}
	return unfold(f.raw[i+1:])
}

// Raw is the field exactly as it will be written, line endings included.
// The caller must not modify the returned slice.
func (f Field) Raw() []byte { return f.raw }

func unfold(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			sb.Write(b)
			break
		}
		line := b[:i]
		line = bytes.TrimSuffix(line, []byte("\r"))
		sb.Write(line)
		b = b[i+1:]
	}
	return strings.Trim(sb.String(), " \t")
}

// A Header is the header section of a message: its fields in order, each
// with its raw bytes, and the empty line that ended it.
//
// Fields that were read keep their bytes, line endings and folding exactly:
// [Header.WriteTo] writes them unchanged, so LF-only input stays LF-only in
// those lines. Fields added with [Header.Add] end in CRLF. The smtp package
// turns every line ending into CRLF on the wire.
//
// The zero Header is an empty header section.
type Header struct {
	fields []Field
	// sep is the empty line that ended the section, as read. It is nil when
	// the input ended inside the header section, or for a header that was
	// built rather than read.
	sep []byte
	// inserted is set when the section ended at a line that is not a field
	// and sep was made up so that the line stays in the body.
	inserted bool
	// skipped is a leading mbox "From " line that was dropped.
	skipped []byte
}

// ReadHeader reads the header section of a message from br, up to and
// including the empty line that ends it, and leaves br at the first octet
// of the body. Lines may end in LF or CRLF.
//
// Like Postfix's sendmail, it is lenient about where the section ends:
//   - a leading mbox "From " line (the Unix envelope, not a field) is dropped;
//   - the first line that is not a field (no field name and colon, RFC 5322
//     §2.2) ends the section and stays unread, as the first line of the body,
//     so input with no header at all is a body; [Header.WriteTo] then writes
//     an empty line (CRLF) before it;
//   - input that ends inside the section is a header with no body.
//
// A line is recognised as a field by peeking at its name, so a field name
// longer than br's buffer (4096 octets by default) is taken for body text.
//
// The section is bounded by [MaxHeaderBytes] and [MaxHeaderFields]; beyond
// them the error wraps [ErrHeaderTooLarge]. Read errors are returned as they
// are.
func ReadHeader(br *bufio.Reader) (*Header, error) {
	h := &Header{}
	lr := lineReader{br: br}
	if p, _ := br.Peek(5); string(p) == "From " {
		line, err := lr.line()
		h.skipped = line
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return nil, err
		}
	}
	for {
		p, err := br.Peek(2)
		if len(p) == 0 {
			if err == io.EOF {
				return h, nil
			}
			return nil, err
		}
		// RFC 5322 §2.1: an empty line separates the header from the body.
		if p[0] == '\n' || string(p) == "\r\n" {
			h.sep, _ = lr.line()
			return h, nil
		}
		ok, err := fieldStart(br)
		if err != nil {
			return nil, err
		}
		if !ok {
			h.sep = crlf
			h.inserted = true
			return h, nil
		}
		if len(h.fields) == MaxHeaderFields {
			return nil, fmt.Errorf("%w: more than %d fields", ErrHeaderTooLarge, MaxHeaderFields)
		}
		raw, err := lr.line()
		// RFC 5322 §2.2.3: a line starting with white space continues the
		// field above it.
		for err == nil {
			p, _ := br.Peek(1)
			if len(p) == 0 || (p[0] != ' ' && p[0] != '\t') {
				break
			}
			var more []byte
			more, err = lr.line()
			raw = append(raw, more...)
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		h.fields = append(h.fields, Field{raw: raw})
		if err == io.EOF {
			return h, nil
		}
	}
}

// lineReader reads lines while counting them against MaxHeaderBytes.
type lineReader struct {
	br    *bufio.Reader
	total int
}

// line returns the next line with its line ending, or what is left before
// EOF together with io.EOF.
func (lr *lineReader) line() ([]byte, error) {
	var line []byte
	for {
		frag, err := lr.br.ReadSlice('\n')
		lr.total += len(frag)
		if lr.total > MaxHeaderBytes {
			return nil, fmt.Errorf("%w: over %d octets", ErrHeaderTooLarge, MaxHeaderBytes)
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == nil || (err == io.EOF && len(line) > 0) {
			return line, err
		}
		return nil, err
	}
}

// fieldStart reports whether the line br is at starts with a field name and
// a colon: RFC 5322 §3.6.8 ftext is printable US-ASCII except ":", and
// RFC 5322 §4.5 allows white space before the colon. It only peeks, so a
// line that is not a field stays unread.
func fieldStart(br *bufio.Reader) (bool, error) {
	i := 0
	peek := func() (byte, bool, error) {
		p, err := br.Peek(i + 1)
		if len(p) <= i {
			if err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
				return 0, false, nil
			}
			return 0, false, err
		}
		return p[i], true, nil
	}
	for {
		c, ok, err := peek()
		if !ok {
			return false, err
		}
		if c == ':' {
			return i > 0, nil
		}
		if c == ' ' || c == '\t' {
			break
		}
		if c < '!' || c > '~' {
			return false, nil
		}
		i++
	}
	if i == 0 {
		return false, nil
	}
	for {
		c, ok, err := peek()
		if !ok {
			return false, err
		}
		if c == ':' {
			return true, nil
		}
		if c != ' ' && c != '\t' {
			return false, nil
		}
		i++
	}
}

// Fields returns the fields in order. The slice is a copy; the fields share
// their bytes with h.
func (h *Header) Fields() []Field {
	return append([]Field(nil), h.fields...)
}

// Get returns the unfolded value of the first field named name, compared
// without regard to ASCII case, or "" if there is none.
func (h *Header) Get(name string) string {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name(), name) {
			return f.Value()
		}
	}
	return ""
}

// Values returns the unfolded values of every field named name, in order.
func (h *Header) Values(name string) []string {
	var vs []string
	for _, f := range h.fields {
		if strings.EqualFold(f.Name(), name) {
			vs = append(vs, f.Value())
		}
	}
	return vs
}

// Has reports whether a field named name is present.
func (h *Header) Has(name string) bool {
	for _, f := range h.fields {
		if strings.EqualFold(f.Name(), name) {
			return true
		}
	}
	return false
}

// Del removes every field named name and reports how many there were. The
// other fields are not touched.
func (h *Header) Del(name string) int {
	kept := h.fields[:0]
	for _, f := range h.fields {
		if !strings.EqualFold(f.Name(), name) {
			kept = append(kept, f)
		}
	}
	n := len(h.fields) - len(kept)
	clear(h.fields[len(kept):])
	h.fields = kept
	return n
}

// Add appends the field "name: value" after the existing fields, folded at
// white space to lines of at most 76 characters where the value allows
// (RFC 5322 §2.1.1, §2.2.3) and ended with CRLF. The value is written as
// given: encode non-ASCII text with RFC 2047 first if the message must stay
// 7-bit. An invalid name or value is refused with an error wrapping
// [ErrInvalidField]; see [CheckField].
func (h *Header) Add(name, value string) error {
	if err := CheckField(name, value); err != nil {
		return err
	}
	if n := len(h.fields); n > 0 && !bytes.HasSuffix(h.fields[n-1].raw, []byte("\n")) {
		// The input ended inside the last field: end its line first.
		last := h.fields[n-1].raw
		h.fields[n-1].raw = append(last[:len(last):len(last)], crlf...)
	}
	h.fields = append(h.fields, Field{raw: fold(name, value)})
	return nil
}

// CheckField validates a field the caller supplies, so that it cannot inject
// other fields or end the header section early. The name must be one or more
// printable US-ASCII characters other than ":" (RFC 5322 §3.6.8). The value
// must be valid UTF-8 (RFC 6532 §3.2) and must not contain CR, LF, NUL or any
// other control character except horizontal tab (RFC 5322 §3.2.5, §2.2).
// Errors wrap [ErrInvalidField].
func CheckField(name, value string) error {
	if name == "" {
		return fmt.Errorf("%w: empty field name", ErrInvalidField)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < '!' || c > '~' || c == ':' {
			return fmt.Errorf("%w: field name %q: character %q not allowed (RFC 5322 §3.6.8)", ErrInvalidField, name, c)
		}
	}
	if !utf8.ValidString(value) {
		return fmt.Errorf("%w: %s: value is not valid UTF-8", ErrInvalidField, name)
	}
	for _, r := range value {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return fmt.Errorf("%w: %s: control character %q in value", ErrInvalidField, name, r)
		}
	}
	return nil
}

// ParseField splits a "Name: value" argument, such as the one given to
// -H/--header, and validates it with [CheckField]. White space around the
// value is removed.
func ParseField(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("%w: %q: want \"Name: value\"", ErrInvalidField, s)
	}
	name = strings.TrimRight(name, " \t")
	value = strings.Trim(value, " \t")
	if err := CheckField(name, value); err != nil {
		return "", "", err
	}
	return name, value, nil
}

// fold renders "name: value" CRLF, breaking it before white space that is
// followed by more text once a line would pass foldWidth (RFC 5322 §2.2.3).
// A value without such white space stays on one long line.
func fold(name, value string) []byte {
	line := name + ": " + value
	b := make([]byte, 0, len(line)+len(line)/foldWidth*2+2)
	start, last := 0, -1
	// The space after the colon is a break point too, for a first word that
	// does not fit after a long name, but only if the word then fits.
	colon := len(name) + 1
	for i := colon; i < len(line); i++ {
		if !isWSP(line[i]) || isWSP(line[i-1]) {
			continue
		}
		// A break before line[i] is only useful if non-WSP text follows,
		// otherwise the continuation line would be white space only.
		j := i
		for j < len(line) && isWSP(line[j]) {
			j++
		}
		if j == len(line) {
			break
		}
		if i-start > foldWidth && last > start && (last > colon || i-last <= foldWidth) {
			b = append(b, line[start:last]...)
			b = append(b, crlf...)
			start = last
		}
		last = i
	}
	if len(line)-start > foldWidth && last > start && (last > colon || len(line)-last <= foldWidth) {
		b = append(b, line[start:last]...)
		b = append(b, crlf...)
		start = last
	}
	b = append(b, line[start:]...)
	return append(b, crlf...)
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// UTF8 reports whether any field holds a non-ASCII octet. Such a header is
// only allowed with SMTPUTF8 (RFC 6532 §3, RFC 6531 §3.2).
func (h *Header) UTF8() bool {
	for _, f := range h.fields {
		for _, c := range f.raw {
			if c >= 0x80 {
				return true
			}
		}
	}
	return false
}

// Size is the number of octets [Header.WriteTo] writes.
func (h *Header) Size() int64 {
	n := int64(len(h.sep))
	for _, f := range h.fields {
		n += int64(len(f.raw))
	}
	return n
}

// WriteTo writes the fields in order, each exactly as read or added, and
// then the empty line that ended the header section as it was read. For a
// header that has not been changed, this is the input consumed by
// [ReadHeader] except a leading mbox "From " line, and with the CRLF made up
// when the section ended at a body line rather than an empty line. When the
// input ended inside the header section nothing follows the last field; use
// [NewReader] to add the empty line when a body follows.
func (h *Header) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for _, f := range h.fields {
		n, err := w.Write(f.raw)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	n, err := w.Write(h.sep)
	return total + int64(n), err
}

// NewReader returns the message made of h and body: the header as
// [Header.WriteTo] writes it, then the body, streamed from body as it is
// read. When h has no empty line after it (a header built rather than read,
// or input that ended inside the header section), NewReader adds CRLF CRLF
// or CRLF as needed, but only if body yields at least one octet: a message
// without a body needs no empty line (RFC 5322 §3.5).
//
// A nil body is an empty one. h is written out when NewReader is called;
// later changes to h are not seen.
func NewReader(h *Header, body io.Reader) io.Reader {
	if body == nil {
		body = eofReader{}
	}
	var buf bytes.Buffer
	_, _ = h.WriteTo(&buf) // writes to a bytes.Buffer do not fail
	r := &messageReader{pending: buf.Bytes(), body: body}
	if h.sep == nil {
		r.probe = true
		if buf.Len() > 0 && !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
			r.before = "\r\n\r\n"
		} else {
			r.before = "\r\n"
		}
	}
	return r
}

type messageReader struct {
	pending []byte
	body    io.Reader
	// probe is set while it is not known whether body is empty, in which
	// case before must be written ahead of its first octet.
	probe  bool
	before string
	one    [1]byte
}

func (r *messageReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.pending) == 0 && r.probe {
		r.probe = false
		var n int
		var err error
		for n == 0 && err == nil {
			n, err = r.body.Read(r.one[:])
		}
		if n == 0 {
			return 0, err
		}
		r.pending = append([]byte(r.before), r.one[0])
		if err != nil && err != io.EOF {
			r.body = errReader{err}
		} else if err == io.EOF {
			r.body = eofReader{}
		}
	}
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.body.Read(p)
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
