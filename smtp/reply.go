package smtp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Reply is one complete server reply (RFC 5321 §4.2).
type Reply struct {
	// Code is the three-digit reply code.
	Code int
	// Enhanced is the RFC 3463 enhanced status code of the first line
	// ("2.1.5"), when the server advertised ENHANCEDSTATUSCODES (RFC 2034).
	Enhanced string
	// Lines holds the text of each line after the code (and after the
	// enhanced code, when one was parsed). Text is as received: escape it
	// with [Escape] before showing it.
	Lines []string
}

// Text is the reply's text lines joined with a space.
func (r Reply) Text() string { return strings.Join(r.Lines, " ") }

func (r Reply) String() string {
	s := fmt.Sprintf("%d", r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if t := r.Text(); t != "" {
		s += " " + Escape(t)
	}
	return s
}

// ReplyLimits bound what a server can make the client hold in memory for one
// reply. A hostile or broken server can never make the client use unbounded
// memory: past a bound the reply is an [ErrReplyTooLong] and the connection
// is broken.
type ReplyLimits struct {
	// MaxLine is the longest line accepted, CRLF included. RFC 5321
	// §4.5.3.1.5 sets 512 octets; real servers exceed it (long EHLO
	// keywords, banners), so the default is 4096.
	MaxLine int
	// MaxLines is the largest number of lines in one reply (default 256).
	MaxLines int
	// MaxBytes is the largest total size of one reply (default 64 KiB).
	MaxBytes int
}

// saslLineLimit is the longest challenge line accepted during AUTH. RFC 4954
// §4 allows responses of 12288 octets; challenges (OAuth error JSON, SCRAM
// with channel-binding data) get the same room, base64 included.
const saslLineLimit = 16384

func (l ReplyLimits) withDefaults() ReplyLimits {
	if l.MaxLine <= 0 {
		l.MaxLine = 4096
	}
	if l.MaxLines <= 0 {
		l.MaxLines = 256
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = 64 << 10
	}
	return l
}

// ReplyReader reads SMTP replies from a buffered stream, strictly and
// within bounds.
type ReplyReader struct {
	r        *bufio.Reader
	limits   ReplyLimits
	enhanced bool
	line     []byte
	// onLine, when set, sees every raw line (for the trace).
	onLine func(line string)
}

// NewReplyReader returns a reader of replies from r. When enhanced is true,
// enhanced status codes (RFC 2034) are split off the text.
func NewReplyReader(r *bufio.Reader, limits ReplyLimits, enhanced bool) *ReplyReader {
	return &ReplyReader{r: r, limits: limits.withDefaults(), enhanced: enhanced}
}

// ReadReply reads one complete reply, single or multi-line.
//
// RFC 5321 §4.2: a reply line is the code, then SP (last line) or "-"
// (more lines follow), then text; a line of the code alone is also a last
// line. Every line of a multi-line reply carries the same code (§4.2.1).
func (rr *ReplyReader) ReadReply() (Reply, error) {
	return rr.readReply(rr.limits.MaxLine)
}

func (rr *ReplyReader) readReply(maxLine int) (Reply, error) {
	var rep Reply
	total := 0
	for n := 0; ; n++ {
		if n >= rr.limits.MaxLines {
			return rep, fmt.Errorf("%w: more than %d lines", ErrReplyTooLong, rr.limits.MaxLines)
		}
		line, err := rr.readLine(maxLine)
		if err != nil {
			return rep, err
		}
		total += len(line) + 2
		if total > rr.limits.MaxBytes {
			return rep, fmt.Errorf("%w: more than %d bytes", ErrReplyTooLong, rr.limits.MaxBytes)
		}
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return rep, err
		}
		if n == 0 {
			rep.Code = code
		} else if code != rep.Code {
			return rep, fmt.Errorf("%w: reply code changed from %d to %d within one reply", ErrProtocol, rep.Code, code)
		}
		if rr.enhanced {
			if enh, rest, ok := splitEnhanced(code, text); ok {
				if n == 0 {
					rep.Enhanced = enh
				}
				text = rest
			}
		}
		rep.Lines = append(rep.Lines, text)
		if last {
			return rep, nil
		}
	}
}

// readLine reads one CRLF-terminated line of at most max octets (CRLF
// included) and returns it without the CRLF.
func (rr *ReplyReader) readLine(max int) (string, error) {
	rr.line = rr.line[:0]
	for {
		frag, err := rr.r.ReadSlice('\n')
		if len(rr.line)+len(frag) > max {
			return "", fmt.Errorf("%w: line longer than %d octets", ErrReplyTooLong, max)
		}
		rr.line = append(rr.line, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if len(rr.line) > 0 {
				return "", fmt.Errorf("%w: connection closed in the middle of a reply line", ErrProtocol)
			}
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	n := len(rr.line)
	if n < 2 || rr.line[n-2] != '\r' {
		// RFC 5321 §2.3.8: lines end with CRLF; a bare LF is not a line end.
		return "", fmt.Errorf("%w: reply line not terminated by CRLF", ErrProtocol)
	}
	line := rr.line[:n-2]
	for _, c := range line {
		// NUL and control characters other than HT have no place in a
		// reply (RFC 5321 §4.1.1.1 textstring: HT / SP / %d33-126; UTF-8
		// is tolerated for servers that localise their text).
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return "", fmt.Errorf("%w: control character 0x%02x in reply", ErrProtocol, c)
		}
	}
	s := string(line)
	if rr.onLine != nil {
		rr.onLine(s)
	}
	return s, nil
}

// parseReplyLine splits a reply line into its code, whether it is the last
// line, and its text.
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	if len(line) < 3 {
		return 0, false, "", fmt.Errorf("%w: reply line too short: %q", ErrProtocol, Escape(line))
	}
	// RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39. The second digit
	// is not range-checked beyond 0-9 because real servers use it freely.
	if line[0] < '2' || line[0] > '5' || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, "", fmt.Errorf("%w: malformed reply code in %q", ErrProtocol, Escape(line))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: malformed reply line %q", ErrProtocol, Escape(line))
}

// splitEnhanced splits an RFC 3463 status code off the front of text. The
// class digit must agree with the reply code's first digit (RFC 2034 §4).
func splitEnhanced(code int, text string) (enh, rest string, ok bool) {
	// status-code = class "." subject "." detail; class = 2/4/5,
	// subject = 1*3digit, detail = 1*3digit.
	// Only 2xx, 4xx and 5xx replies carry one: class is "2" / "4" / "5".
	class := code / 100
	if class == 3 || len(text) < 5 || text[0] != byte('0'+class) || text[1] != '.' {
		return "", text, false
	}
	i := 2
	for part := 0; part < 2; part++ {
		start := i
		for i < len(text) && isDigit(text[i]) && i-start < 3 {
			i++
		}
		if i == start {
			return "", text, false
		}
		if part == 0 {
			if i >= len(text) || text[i] != '.' {
				return "", text, false
			}
			i++
		}
	}
	if i < len(text) && text[i] != ' ' {
		return "", text, false
	}
	enh = text[:i]
	rest = strings.TrimPrefix(text[i:], " ")
	return enh, rest, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
