package message

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// A Composition is a message to build from parts, for sending without a
// message on input: the -s/--subject, --body, --body-file, -H/--header,
// --to, --cc and --attach flags. Bcc recipients are not part of it: they
// belong in the envelope only, and no Bcc field is ever written.
type Composition struct {
	// From is the author, written as the From field (required).
	From *mail.Address
	// To and Cc are written as the To and Cc fields, when not empty.
	To, Cc []*mail.Address
	// Subject is written as the Subject field, RFC 2047 encoded when it is
	// not ASCII; an empty Subject writes no field.
	Subject string
	// Headers are more fields, in order, such as those from -H/--header.
	// Each is checked with [CheckField]. A non-ASCII value is encoded
	// (RFC 2047 for text, display names for address fields) unless the
	// field is structured, such as References, in which case it stays
	// UTF-8 (RFC 6532). A Date or Message-ID here is used instead of the
	// one Open would add. MIME-Version, Content-* and Bcc are refused, as is a second
	// field where RFC 5322 §3.6 allows one (a To here with To set above).
	Headers [][2]string
	// Body is the text, taken to be UTF-8. Nil means no text part: the
	// message is only its attachments, or empty.
	Body io.Reader
	// Attachments are files sent as parts of a multipart/mixed message
	// (RFC 2046 §5.1.3), each streamed from its file.
	Attachments []Attachment
	// Now returns the time for Date; nil means [time.Now].
	Now func() time.Time
	// MessageIDDomain is the right side of the Message-ID; empty means the
	// domain of From.
	MessageIDDomain string
}

// An Attachment is a file to send as a message part.
type Attachment struct {
	// Path is the file to read.
	Path string
	// Name is the file name given to the recipient; empty means the last
	// element of Path. Non-ASCII names are written with RFC 2231.
	Name string
	// ContentType is the MIME type, such as "text/csv"; empty means it is
	// guessed from the extension of Name (or Path) with
	// [mime.TypeByExtension], and failing that from the first 512 octets
	// with [http.DetectContentType].
	ContentType string
}

// ParseAttachArg parses the argument of --attach: "FILE", optionally
// followed by ";type=TYPE" and ";name=NAME" in either order, as in
// "report.csv;type=text/csv; charset=iso-8859-1" or "a.bin;name=data.bin".
// The parameters are found from the end, so a file name may itself contain
// ";".
func ParseAttachArg(s string) (Attachment, error) {
	var a Attachment
	for range 2 {
		lower := strings.ToLower(s)
		t, n := strings.LastIndex(lower, ";type="), strings.LastIndex(lower, ";name=")
		if a.ContentType != "" {
			t = -1
		}
		if a.Name != "" {
			n = -1
		}
		switch {
		case t > n:
			a.ContentType, s = s[t+len(";type="):], s[:t]
			if a.ContentType == "" {
				return Attachment{}, fmt.Errorf("%w: empty type in --attach", ErrBadAttachment)
			}
		case n > t:
			a.Name, s = s[n+len(";name="):], s[:n]
			if a.Name == "" {
				return Attachment{}, fmt.Errorf("%w: empty name in --attach", ErrBadAttachment)
			}
		}
	}
	a.Path = s
	return a, checkAttachArg(a)
}

func checkAttachArg(a Attachment) error {
	if a.Path == "" {
		return fmt.Errorf("%w: no file name", ErrBadAttachment)
	}
	if a.ContentType != "" {
		if _, _, err := parseContentType(a.ContentType); err != nil {
			return err
		}
	}
	return nil
}

// parseContentType accepts a type/subtype with parameters (RFC 2045 §5.1).
func parseContentType(s string) (string, map[string]string, error) {
	mt, params, err := mime.ParseMediaType(s)
	if err != nil || strings.Count(mt, "/") != 1 || strings.HasPrefix(mt, "/") || strings.HasSuffix(mt, "/") {
		return "", nil, fmt.Errorf("%w: content type %q is not type/subtype (RFC 2045 §5.1)", ErrBadAttachment, s)
	}
	return mt, params, nil
}

// A Composed is a message produced from a [Composition]: read it to get the
// message, streamed, and close it to release the attachment files.
type Composed struct {
	// Header is the message's header as it is written; Header.UTF8 says
	// whether SMTPUTF8 is needed (only for a non-ASCII address or
	// structured field: text and display names are RFC 2047 encoded).
	// It is for reading: the message was laid out by Open, and changing
	// Header does not change it.
	Header *Header
	r      io.Reader
	files  []*os.File
}

// Read reads the message: header, then body, with CRLF line endings. The
// body is 7-bit (RFC 2045 §2.7): every part is 7bit, quoted-printable or
// base64.
func (m *Composed) Read(p []byte) (int, error) { return m.r.Read(p) }

// Close closes the attachment files. The message cannot be read after.
func (m *Composed) Close() error {
	var errs []error
	for _, f := range m.files {
		errs = append(errs, f.Close())
	}
	m.files = nil
	m.r = errReader{errors.New("message: read after Close")}
	return errors.Join(errs...)
}

// bodyPrefix is how much of the body Open reads ahead to choose its
// encoding. A body that ends within it is sent as 7bit when it can be
// (ASCII, no NUL or bare CR, lines of at most 998 octets: RFC 2045 §2.7),
// otherwise as quoted-printable. A longer body is always quoted-printable,
// which is correct for any text and keeps memory constant.
const bodyPrefix = 64 << 10

// chunkSize is the size of reads from the body and attachment files.
const chunkSize = 32 << 10

// Open checks the composition, opens every attachment and reads the start
// of the body, so that a missing file or an invalid field is reported before
// any octet of the message is produced. It returns the message, to be read
// and then closed.
//
// The header holds From, To, Cc, Subject, Date, Message-ID, the fields in
// Headers, MIME-Version and the content fields. The text is
// "text/plain; charset=utf-8" (RFC 2046 §4.1.2). With attachments the
// message is multipart/mixed; its boundary starts with "=_", which cannot
// occur in quoted-printable or base64 text (RFC 2045 §6.7, §6.8; RFC 2046
// §5.1.1), and a 7bit text part is checked not to contain it. Text
// attachments (text/*) are quoted-printable, which writes their line breaks
// as CRLF, the canonical form of text (RFC 2046 §4.1.1); all others are
// base64 and arrive byte for byte. Errors wrap [ErrInvalidField],
// [ErrBadAddress] or [ErrBadAttachment], or are the body's read error.
func (c *Composition) Open() (_ *Composed, err error) {
	h := &Header{sep: crlf}
	if err := c.addressFields(h); err != nil {
		return nil, err
	}
	extra, err := c.extraFields()
	if err != nil {
		return nil, err
	}
	if c.Subject != "" {
		if err := CheckField("Subject", c.Subject); err != nil {
			return nil, err
		}
		if err := h.Add("Subject", encodeText(c.Subject, len("Subject: "))); err != nil {
			return nil, err
		}
	}
	if !hasField(extra, "Date") {
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		_ = h.Add("Date", FormatDate(now()))
	}
	if !hasField(extra, "Message-ID") {
		domain := c.MessageIDDomain
		if domain == "" {
			domain = fromDomain(h, c.From)
		}
		if !isDotAtom(domain) {
			return nil, fmt.Errorf("%w: Message-ID domain %q is not a dot-atom (RFC 5322 §3.6.4)", ErrInvalidField, domain)
		}
		_ = h.Add("Message-ID", NewMessageID(domain))
	}
	for _, f := range extra {
		if err := h.Add(f[0], f[1]); err != nil {
			return nil, err
		}
	}
	_ = h.Add("MIME-Version", "1.0")

	m := &Composed{Header: h}
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	parts, err := c.openAttachments(m)
	if err != nil {
		return nil, err
	}

	var text *bodyPart
	if c.Body != nil || len(parts) == 0 {
		text, err = c.textPart()
		if err != nil {
			return nil, err
		}
	}

	if len(parts) == 0 {
		text.writeHeader(h)
		m.r = NewReader(h, text.content)
		return m, nil
	}

	var boundary string
	for {
		boundary = newBoundary()
		if !text.contains(boundary) && !partsContain(parts, boundary) {
			break
		}
	}
	_ = h.Add("Content-Type", mime.FormatMediaType("multipart/mixed", map[string]string{"boundary": boundary}))
	var rs []io.Reader
	rs = append(rs, NewReader(h, nil))
	delim := "--" + boundary + "\r\n"
	if text != nil {
		ph := &Header{sep: crlf}
		text.writeHeader(ph)
		rs = append(rs, strings.NewReader(delim), NewReader(ph, nil), text.content)
		delim = "\r\n" + delim
	}
	for _, p := range parts {
		rs = append(rs, strings.NewReader(delim), bytes.NewReader(p.header), p.content)
		delim = "\r\n--" + boundary + "\r\n"
	}
	// RFC 2046 §5.1.1: the close delimiter.
	rs = append(rs, strings.NewReader("\r\n--"+boundary+"--\r\n"))
	m.r = io.MultiReader(rs...)
	return m, nil
}

// addressFields writes From, To and Cc.
func (c *Composition) addressFields(h *Header) error {
	if c.From == nil {
		return fmt.Errorf("%w: From is required (RFC 5322 §3.6.2)", ErrInvalidField)
	}
	from, err := formatAddress(c.From)
	if err != nil {
		return fmt.Errorf("From: %w", err)
	}
	_ = h.Add("From", from)
	for _, f := range []struct {
		name string
		list []*mail.Address
	}{{"To", c.To}, {"Cc", c.Cc}} {
		if len(f.list) == 0 {
			continue
		}
		s, err := formatAddressList(f.list)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := h.Add(f.name, s); err != nil {
			return err
		}
	}
	return nil
}

func formatAddressList(list []*mail.Address) (string, error) {
	parts := make([]string, len(list))
	for i, a := range list {
		s, err := formatAddress(a)
		if err != nil {
			return "", err
		}
		parts[i] = s
	}
	return strings.Join(parts, ", "), nil
}

// once are the fields RFC 5322 §3.6 allows at most once.
var once = map[string]bool{
	"date": true, "from": true, "sender": true, "reply-to": true, "to": true,
	"cc": true, "bcc": true, "message-id": true, "in-reply-to": true,
	"references": true, "subject": true,
}

// addressFieldNames are fields whose value is an address list.
var addressFieldNames = map[string]bool{
	"from": true, "sender": true, "reply-to": true, "to": true, "cc": true,
	"resent-from": true, "resent-sender": true, "resent-to": true, "resent-cc": true,
}

// structured are fields whose syntax has no place for encoded words
// (RFC 2047 §5): their non-ASCII text can only be sent as UTF-8.
var structured = map[string]bool{
	"date": true, "message-id": true, "in-reply-to": true, "references": true,
	"resent-date": true, "resent-message-id": true, "received": true,
	"return-path": true,
}

// extraFields checks and encodes c.Headers.
func (c *Composition) extraFields() ([][2]string, error) {
	count := map[string]int{"from": 1}
	if len(c.To) > 0 {
		count["to"]++
	}
	if len(c.Cc) > 0 {
		count["cc"]++
	}
	if c.Subject != "" {
		count["subject"]++
	}
	var out [][2]string
	for _, f := range c.Headers {
		name, value := f[0], strings.Trim(f[1], " \t")
		if err := CheckField(name, value); err != nil {
			return nil, err
		}
		key := strings.ToLower(name)
		switch {
		case key == "mime-version" || strings.HasPrefix(key, "content-"):
			return nil, fmt.Errorf("%w: %s: the MIME structure is set by the composition", ErrInvalidField, name)
		case key == "bcc" || key == "resent-bcc":
			return nil, fmt.Errorf("%w: %s: blind recipients go in the envelope only", ErrInvalidField, name)
		}
		count[key]++
		if once[key] && count[key] > 1 {
			return nil, fmt.Errorf("%w: %s given twice (RFC 5322 §3.6 allows one)", ErrInvalidField, name)
		}
		if !isASCII(value) {
			switch {
			case addressFieldNames[key]:
				list, err := ParseAddressList(value, nil)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				if value, err = formatAddressList(list); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
			case !structured[key]:
				value = encodeText(value, len(name)+len(": "))
			}
		}
		out = append(out, [2]string{name, value})
	}
	return out, nil
}

func hasField(fields [][2]string, name string) bool {
	for _, f := range fields {
		if strings.EqualFold(f[0], name) {
			return true
		}
	}
	return false
}

// encodeText encodes unstructured text with RFC 2047 encoded words when it
// is not ASCII, or when it holds "=?" and would otherwise be taken for an
// encoded word. Q keeps mostly Latin text readable; B is shorter when more
// than half the characters are not ASCII, as in CJK text (RFC 2047 §4).
// Words are cut between characters (RFC 2047 §5 (3)) so that each fits on a
// line of 76 (RFC 2047 §2): the first after the prefix octets of
// "Name: ", the others after the single space they are folded at.
func encodeText(s string, prefix int) string {
	if isASCII(s) && !strings.Contains(s, "=?") {
		return s
	}
	runes, nonASCII := 0, 0
	for _, r := range s {
		runes++
		if r >= utf8.RuneSelf {
			nonASCII++
		}
	}
	b := nonASCII > runes/2
	const open, end = "=?utf-8?q?", "?="
	var out strings.Builder
	var word []byte // the current word's text, not yet encoded
	limit := foldWidth - prefix
	if limit < 24 {
		// Not even one character fits after a long field name: the first
		// word goes on the next line, folded at the space after the colon.
		limit = foldWidth - 1
	}
	flush := func() {
		if len(word) == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		if b {
			out.WriteString("=?utf-8?b?" + base64.StdEncoding.EncodeToString(word) + end)
		} else {
			out.WriteString(open)
			for _, c := range word {
				out.WriteString(qChar(c))
			}
			out.WriteString(end)
		}
		word = word[:0]
		limit = foldWidth - 1
	}
	encodedLen := 0
	for _, r := range s {
		var rb [utf8.UTFMax]byte
		n := utf8.EncodeRune(rb[:], r)
		var add int
		if b {
			add = (len(word)+n+2)/3*4 - (len(word)+2)/3*4
		} else {
			for _, c := range rb[:n] {
				add += len(qChar(c))
			}
		}
		if len(word) > 0 && len(open)+encodedLen+add+len(end) > limit {
			flush()
			encodedLen = 0
			if b {
				add = (n + 2) / 3 * 4
			}
		}
		word = append(word, rb[:n]...)
		encodedLen += add
	}
	flush()
	return out.String()
}

// qChar is one octet in the Q encoding as RFC 2047 §5 (3) allows it in any
// encoded word: letters, digits and "!*+-/" as they are, space as "_",
// everything else as "=XX".
func qChar(c byte) string {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
		return string(rune(c))
	case c == ' ':
		return "_"
	}
	const hex = "0123456789ABCDEF"
	return string([]byte{'=', hex[c>>4], hex[c&0xf]})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// A bodyPart is the text part: its content fields and encoded content.
type bodyPart struct {
	encoding string
	content  io.Reader
	// whole is the encoded content when it is held in memory (7bit).
	whole []byte
}

func (b *bodyPart) writeHeader(h *Header) {
	_ = h.Add("Content-Type", "text/plain; charset=utf-8")
	_ = h.Add("Content-Transfer-Encoding", b.encoding)
}

// contains reports whether the part's content holds s. Encoded content
// cannot hold a boundary that starts with "=_", so only 7bit is searched.
func (b *bodyPart) contains(s string) bool {
	return b != nil && bytes.Contains(b.whole, []byte(s))
}

// textPart reads up to bodyPrefix of the body and picks its encoding.
func (c *Composition) textPart() (*bodyPart, error) {
	if c.Body == nil {
		return &bodyPart{encoding: "7bit", content: bytes.NewReader(nil)}, nil
	}
	buf := make([]byte, bodyPrefix)
	n, err := io.ReadFull(c.Body, buf)
	switch err {
	case io.EOF, io.ErrUnexpectedEOF:
		if text, ok := sevenBit(buf[:n]); ok {
			return &bodyPart{encoding: "7bit", content: bytes.NewReader(text), whole: text}, nil
		}
		return &bodyPart{encoding: "quoted-printable", content: newQPReader(bytes.NewReader(buf[:n]))}, nil
	case nil:
		return &bodyPart{encoding: "quoted-printable", content: newQPReader(io.MultiReader(bytes.NewReader(buf), c.Body))}, nil
	default:
		return nil, fmt.Errorf("reading the message body: %w", err)
	}
}

// sevenBit returns b with CRLF line endings if it is 7bit data: US-ASCII
// without NUL, no CR outside CRLF, lines of at most 998 octets (RFC 2045
// §2.7, RFC 5322 §2.1.1).
func sevenBit(b []byte) ([]byte, bool) {
	out := make([]byte, 0, len(b)+len(b)/32)
	lineLen := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0 || c >= 0x80:
			return nil, false
		case c == '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return nil, false
			}
			continue
		case c == '\n':
			out = append(out, crlf...)
			lineLen = 0
			continue
		}
		lineLen++
		if lineLen > 998 {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// An attachmentPart is an opened attachment.
type attachmentPart struct {
	header  []byte
	content io.Reader
}

func partsContain(parts []attachmentPart, s string) bool {
	for _, p := range parts {
		if bytes.Contains(p.header, []byte(s)) {
			return true
		}
	}
	return false
}

// openAttachments opens every file and prepares its part; the files are
// recorded in m to be closed.
func (c *Composition) openAttachments(m *Composed) ([]attachmentPart, error) {
	var parts []attachmentPart
	for _, a := range c.Attachments {
		f, err := os.Open(a.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadAttachment, err)
		}
		m.files = append(m.files, f)
		if fi, err := f.Stat(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadAttachment, err)
		} else if fi.IsDir() {
			return nil, fmt.Errorf("%w: %s is a directory", ErrBadAttachment, a.Path)
		}
		name := a.Name
		if name == "" {
			name = filepath.Base(a.Path)
		}
		if !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("%w: %s: the file name is not printable UTF-8; give one with ;name=NAME", ErrBadAttachment, a.Path)
		}
		br := bufio.NewReaderSize(f, chunkSize)
		mt, params, err := attachmentType(a, name, br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Path, err)
		}
		params["name"] = name
		ph := &Header{sep: crlf}
		encoding := "base64"
		var content io.Reader
		if strings.HasPrefix(mt, "text/") {
			encoding = "quoted-printable"
			content = newQPReader(br)
		} else {
			content = newBase64Reader(br)
		}
		for _, f := range [][2]string{
			{"Content-Type", mime.FormatMediaType(mt, params)},
			{"Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name})},
			{"Content-Transfer-Encoding", encoding},
		} {
			if f[1] == "" {
				return nil, fmt.Errorf("%w: %s: cannot write %s", ErrBadAttachment, a.Path, f[0])
			}
			if err := ph.Add(f[0], f[1]); err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrBadAttachment, a.Path, err)
			}
		}
		var buf bytes.Buffer
		_, _ = ph.WriteTo(&buf)
		parts = append(parts, attachmentPart{header: buf.Bytes(), content: content})
	}
	return parts, nil
}

// attachmentType returns the content type of an attachment: the given one,
// or one guessed from the name's extension, or from the content.
func attachmentType(a Attachment, name string, br *bufio.Reader) (string, map[string]string, error) {
	if a.ContentType != "" {
		mt, params, err := parseContentType(a.ContentType)
		if err != nil {
			return "", nil, err
		}
		if strings.HasPrefix(mt, "message/") || strings.HasPrefix(mt, "multipart/") {
			// RFC 2046 §5.1, §5.2.1: composite types may not be base64 or
			// quoted-printable encoded, and their content is not checked here.
			return "", nil, fmt.Errorf("%w: %s cannot be sent as an attachment; use application/octet-stream", ErrBadAttachment, mt)
		}
		return mt, params, nil
	}
	head, _ := br.Peek(512)
	t := mime.TypeByExtension(filepath.Ext(name))
	if t == "" {
		t = mime.TypeByExtension(filepath.Ext(a.Path))
	}
	if t == "" {
		t = http.DetectContentType(head)
	}
	mt, params, err := mime.ParseMediaType(t)
	if err != nil || strings.HasPrefix(mt, "message/") || strings.HasPrefix(mt, "multipart/") {
		return "application/octet-stream", map[string]string{}, nil
	}
	if strings.HasPrefix(mt, "text/") && params["charset"] == "" && validUTF8Prefix(head) {
		params["charset"] = "utf-8"
	}
	return mt, params, nil
}

// validUTF8Prefix reports whether b is valid UTF-8 apart from a rune cut at
// its end.
func validUTF8Prefix(b []byte) bool {
	for i := 0; i < utf8.UTFMax && len(b) > 0; i++ {
		if utf8.Valid(b) {
			return true
		}
		b = b[:len(b)-1]
	}
	return utf8.Valid(b)
}

// newBoundary returns "=_" and 32 random base32 characters. "=_" cannot
// occur in quoted-printable output ("=" is always followed by two hex
// digits or a line break) nor in base64 output (no "_", "=" only as final
// padding), so the boundary cannot occur in encoded content (RFC 2045 §6.7
// note 8, RFC 2046 §5.1.1).
func newBoundary() string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return "=_" + idEncoding.EncodeToString(b[:])
}
