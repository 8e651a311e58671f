package message

import (
	"fmt"
	"mime"
	"net/mail"
	"strings"
)

// addressParser decodes RFC 2047 display names (net/mail's own decoder
// knows UTF-8, ISO-8859-1 and US-ASCII). A name in another charset makes the
// parse fail; [parseItem] then keeps the address without the name.
var addressParser = &mail.AddressParser{WordDecoder: &mime.WordDecoder{}}

// Addresses parses every field named name as an address list (RFC 5322
// §3.4) and returns the addresses in order. It is tolerant of what mail
// programs and scripts write:
//   - groups, including the empty "undisclosed-recipients:;" (RFC 5322 §3.4),
//     contribute their members;
//   - empty list elements are skipped (RFC 5322 §4.4);
//   - UTF-8 in display names and addresses is accepted (RFC 6532 §3.2);
//   - an obsolete source route "<@relay:user@host>" is dropped (RFC 5322 §4.4);
//   - a display name that cannot be decoded is dropped, keeping the address;
//   - a bare local name without "@", such as cron's "root" or
//     "Cron Daemon <root>", is qualified by q (see [Qualifier.Qualify]),
//     which may expand it to several addresses.
//
// Elements that still cannot be parsed make an error wrapping
// [ErrBadAddress]; q's errors are returned wrapped.
func (h *Header) Addresses(name string, q *Qualifier) ([]*mail.Address, error) {
	var all []*mail.Address
	for _, v := range h.Values(name) {
		list, err := ParseAddressList(v, q)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, list...)
	}
	return all, nil
}

// ParseAddressList parses one address-list field value the way
// [Header.Addresses] does.
func ParseAddressList(value string, q *Qualifier) ([]*mail.Address, error) {
	var list []*mail.Address
	for _, span := range splitAddressList(value) {
		addrs, err := parseItem(value[span[0]:span[1]], q)
		if err != nil {
			return nil, err
		}
		list = append(list, addrs...)
	}
	return list, nil
}

// resentFields are the fields of a resent block (RFC 5322 §3.6.6).
var resentFields = map[string]bool{
	"resent-date": true, "resent-from": true, "resent-sender": true,
	"resent-to": true, "resent-cc": true, "resent-bcc": true,
	"resent-message-id": true,
}

// Recipients returns the envelope recipients that sendmail -t takes from the
// header: those of the first resent block if there is one, otherwise those
// of To, Cc and Bcc. Each address appears once, in the order of first
// appearance; the domain is compared without regard to case, the local part
// exactly (RFC 5321 §2.4).
//
// RFC 5322 §3.6.6 has each reintroduction of a message add a block of
// Resent- fields above the earlier ones, so the first block in the header is
// the newest. A block is a run of consecutive Resent- fields; a second
// Resent-Date starts a new one. If that block has no Resent-To, Resent-Cc
// or Resent-Bcc, the result is empty.
func (h *Header) Recipients(q *Qualifier) ([]string, error) {
	var fields []Field
	if block := h.resentBlock(); block != nil {
		for _, f := range block {
			switch strings.ToLower(f.Name()) {
			case "resent-to", "resent-cc", "resent-bcc":
				fields = append(fields, f)
			}
		}
	} else {
		for _, f := range h.fields {
			switch strings.ToLower(f.Name()) {
			case "to", "cc", "bcc":
				fields = append(fields, f)
			}
		}
	}
	var rcpts []string
	seen := make(map[string]bool)
	for _, f := range fields {
		list, err := ParseAddressList(f.Value(), q)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name(), err)
		}
		for _, a := range list {
			key := a.Address
			if i := strings.LastIndexByte(key, '@'); i >= 0 {
				key = key[:i] + strings.ToLower(key[i:])
			}
			if !seen[key] {
				seen[key] = true
				rcpts = append(rcpts, a.Address)
			}
		}
	}
	return rcpts, nil
}

// resentBlock returns the first run of resent fields, or nil.
func (h *Header) resentBlock() []Field {
	start := -1
	dates := 0
	for i, f := range h.fields {
		name := strings.ToLower(f.Name())
		if !resentFields[name] {
			if start >= 0 {
				return h.fields[start:i]
			}
			continue
		}
		if start < 0 {
			start = i
		}
		if name == "resent-date" {
			dates++
			if dates == 2 {
				return h.fields[start:i]
			}
		}
	}
	if start >= 0 {
		return h.fields[start:]
	}
	return nil
}

// splitAddressList splits an address list at the commas that separate its
// elements, outside quoted strings, comments and angle brackets, and drops
// group names and the group's ";" (RFC 5322 §3.4). Empty elements are
// dropped. Each element is returned as its start and end in s, without
// surrounding white space.
func splitAddressList(s string) [][2]int {
	var items [][2]int
	inQuote, inAngle, inGroup := false, false, false
	depth := 0 // comment nesting
	start := 0
	flush := func(end int) {
		for start < end && isSpace(s[start]) {
			start++
		}
		for end > start && isSpace(s[end-1]) {
			end--
		}
		if end > start {
			items = append(items, [2]int{start, end})
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (inQuote || depth > 0):
			i++
		case inQuote:
			inQuote = c != '"'
		case depth > 0:
			switch c {
			case '(':
				depth++
			case ')':
				depth--
			}
		case c == '"':
			inQuote = true
		case c == '(':
			depth++
		case inAngle:
			inAngle = c != '>'
		case c == '<':
			inAngle = true
		case c == ',':
			flush(i)
			start = i + 1
		case c == ':' && !inGroup:
			// What came before is the group's display name.
			start = i + 1
			inGroup = true
		case c == ';':
			flush(i)
			start = i + 1
			inGroup = false
		}
	}
	flush(len(s))
	return items
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// parseItem parses one element of an address list.
func parseItem(item string, q *Qualifier) ([]*mail.Address, error) {
	a, err := addressParser.Parse(item)
	if err == nil {
		return []*mail.Address{a}, nil
	}
	// Find the addr-spec: between angle brackets, or the item itself
	// without comments.
	var name, spec string
	if lt := indexUnquoted(item, '<'); lt >= 0 {
		gt := strings.LastIndexByte(item, '>')
		if gt < lt {
			return nil, fmt.Errorf("%w: %q", ErrBadAddress, item)
		}
		name, spec = item[:lt], item[lt+1:gt]
		// RFC 5322 §4.4: obs-route "@a,@b:" before the address.
		if strings.HasPrefix(strings.TrimSpace(spec), "@") {
			if colon := strings.IndexByte(spec, ':'); colon >= 0 {
				spec = spec[colon+1:]
			}
		}
	} else {
		spec = stripComments(item)
	}
	spec = strings.TrimSpace(spec)
	var specs []string
	if isBareLocal(spec) {
		specs, err = q.Qualify(spec)
		if err != nil {
			return nil, err
		}
	} else {
		specs = []string{spec}
	}
	var out []*mail.Address
	for _, s := range specs {
		a, err := addressParser.Parse("<" + s + ">")
		if err != nil {
			return nil, fmt.Errorf("%w: %q", ErrBadAddress, item)
		}
		// Keep the display name when it parses on its own.
		if n := strings.TrimSpace(name); n != "" {
			if withName, err := addressParser.Parse(n + " <" + s + ">"); err == nil {
				a = withName
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// isBareLocal reports whether s is a local part with no domain: a dot-atom
// or quoted string and no "@" (RFC 5322 §3.4.1 local-part).
func isBareLocal(s string) bool {
	if s == "" || strings.ContainsAny(s, "@<>,;:") {
		return false
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return true
	}
	return !strings.ContainsAny(s, " \t\"()[]\\")
}

// indexUnquoted returns the index of the first c outside quoted strings and
// comments, or -1.
func indexUnquoted(s string, c byte) int {
	inQuote, depth := false, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && (inQuote || depth > 0):
			i++
		case inQuote:
			inQuote = s[i] != '"'
		case s[i] == '(':
			depth++
		case depth > 0:
			if s[i] == ')' {
				depth--
			}
		case s[i] == '"':
			inQuote = true
		case s[i] == c:
			return i
		}
	}
	return -1
}

// stripComments removes RFC 5322 §3.2.2 comments outside quoted strings.
func stripComments(s string) string {
	var b strings.Builder
	inQuote, depth := false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && (inQuote || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				if i+1 < len(s) {
					b.WriteByte(s[i+1])
				}
			}
			i++
			continue
		case inQuote:
			inQuote = c != '"'
		case c == '(':
			depth++
			continue
		case depth > 0:
			if c == ')' {
				depth--
			}
			continue
		case c == '"':
			inQuote = true
		}
		b.WriteByte(c)
	}
	return b.String()
}
