package smtp

import (
	"strconv"
	"strings"
)

// Extension is one service extension line of an EHLO reply (RFC 5321
// §4.1.1.1): a keyword and its parameters, as the server sent them.
type Extension struct {
	Keyword string // upper-cased
	Params  []string
}

// Extensions is what a server advertised in its EHLO (or LHLO) reply.
// After STARTTLS it is discarded and read again (RFC 3207 §4.2).
type Extensions struct {
	// Domain is the server's name from the first reply line.
	Domain string
	// List holds every extension in the order advertised, unknown ones
	// included verbatim.
	List []Extension
	// Invalid holds lines that are not ehlo-lines; they are ignored.
	Invalid []string
}

// ParseEHLO parses the lines of a 250 reply to EHLO or LHLO.
func ParseEHLO(lines []string) *Extensions {
	e := &Extensions{}
	if len(lines) == 0 {
		return e
	}
	if f := strings.Fields(lines[0]); len(f) > 0 {
		e.Domain = f[0]
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		kw := f[0]
		params := f[1:]
		// Some servers still send the pre-standard "AUTH=LOGIN PLAIN".
		if k, v, ok := strings.Cut(kw, "="); ok && strings.EqualFold(k, "AUTH") {
			kw = k
			if v != "" {
				params = append([]string{v}, params...)
			}
		}
		if !validKeyword(kw) {
			e.Invalid = append(e.Invalid, l)
			continue
		}
		e.List = append(e.List, Extension{Keyword: strings.ToUpper(kw), Params: params})
	}
	return e
}

// validKeyword reports whether s is an ehlo-keyword: (ALPHA / DIGIT) *(ALPHA /
// DIGIT / "-") (RFC 5321 §4.1.1.1).
func validKeyword(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '-') {
			return false
		}
	}
	return true
}

// Has reports whether the extension keyword was advertised.
func (e *Extensions) Has(keyword string) bool {
	_, ok := e.lookup(keyword)
	return ok
}

// Params returns the parameters of an advertised extension.
func (e *Extensions) Params(keyword string) ([]string, bool) {
	return e.lookup(keyword)
}

func (e *Extensions) lookup(keyword string) ([]string, bool) {
	if e == nil {
		return nil, false
	}
	for _, x := range e.List {
		if strings.EqualFold(x.Keyword, keyword) {
			return x.Params, true
		}
	}
	return nil, false
}

// Size returns the server's message size limit (RFC 1870 §4). ok is false
// when SIZE is not advertised; a limit of 0 means none is declared.
func (e *Extensions) Size() (limit int64, ok bool) {
	p, ok := e.lookup("SIZE")
	if !ok {
		return 0, false
	}
	if len(p) == 0 {
		return 0, true
	}
	n, err := strconv.ParseInt(p[0], 10, 64)
	if err != nil || n < 0 {
		return 0, true
	}
	return n, true
}

// AuthMechanisms returns the SASL mechanisms of the AUTH extension, upper-cased,
// in the order advertised, without duplicates (RFC 4954 §3).
func (e *Extensions) AuthMechanisms() []string {
	var out []string
	seen := map[string]bool{}
	if e == nil {
		return nil
	}
	for _, x := range e.List {
		if x.Keyword != "AUTH" {
			continue
		}
		for _, m := range x.Params {
			m = strings.ToUpper(m)
			if m != "" && !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// Known extension keywords.
const (
	ExtPipelining   = "PIPELINING"          // RFC 2920
	ExtSize         = "SIZE"                // RFC 1870
	Ext8BitMIME     = "8BITMIME"            // RFC 6152
	ExtBinaryMIME   = "BINARYMIME"          // RFC 3030
	ExtSMTPUTF8     = "SMTPUTF8"            // RFC 6531
	ExtChunking     = "CHUNKING"            // RFC 3030
	ExtDSN          = "DSN"                 // RFC 3461
	ExtEnhancedCode = "ENHANCEDSTATUSCODES" // RFC 2034
	ExtStartTLS     = "STARTTLS"            // RFC 3207
	ExtAuth         = "AUTH"                // RFC 4954
	ExtRequireTLS   = "REQUIRETLS"          // RFC 8689
)
