package message

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Bounds on alias expansion, so that a mistaken aliases file cannot make
// one name stand for an unbounded list.
const (
	maxAliasDepth   = 10
	maxAliasTargets = 1000
)

// A Qualifier turns bare local names, such as the "root" that cron writes
// in To and From, into full addresses before they are parsed or used as
// envelope addresses. A nil *Qualifier qualifies nothing.
type Qualifier struct {
	// Domain is appended, after "@", to a local name with no alias.
	Domain string
	// Aliases maps lower-case local names to what they stand for, as
	// [LoadAliases] returns them. An entry named "default" applies to every
	// local name without its own entry (as in msmtp's aliases file).
	Aliases map[string][]string
}

// Qualify returns the addresses that addr stands for. An address with "@"
// is returned unchanged. A local name is looked up in q.Aliases, ignoring
// case; the targets of an alias that are themselves local names are looked
// up in turn (a name met again while it is being expanded is not expanded
// again), and a local name that is no alias gets "@" and q.Domain appended.
// Without an alias and without q.Domain the error wraps [ErrUnqualified]; an
// alias to a pipe, a file or an :include:, which only local delivery can
// honour, wraps [ErrBadAliases].
func (q *Qualifier) Qualify(addr string) ([]string, error) {
	var out []string
	if err := q.expand(addr, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (q *Qualifier) expand(addr string, active []string, out *[]string) error {
	addr = strings.TrimSpace(addr)
	if len(*out) >= maxAliasTargets {
		return fmt.Errorf("%w: an alias expands to more than %d addresses", ErrBadAliases, maxAliasTargets)
	}
	if strings.Contains(addr, "@") {
		*out = append(*out, addr)
		return nil
	}
	if addr == "" {
		return fmt.Errorf("%w: empty address", ErrBadAddress)
	}
	if strings.HasPrefix(addr, "|") || strings.HasPrefix(addr, "/") || strings.HasPrefix(strings.ToLower(addr), ":include:") {
		return fmt.Errorf("%w: %q: pipes, files and :include: need local delivery", ErrBadAliases, addr)
	}
	key := strings.ToLower(addr)
	if q != nil && len(active) < maxAliasDepth && !contains(active, key) {
		targets, ok := q.Aliases[key]
		if !ok && len(active) == 0 {
			targets, ok = q.Aliases["default"]
		}
		if ok {
			active = append(active, key)
			for _, t := range targets {
				if err := q.expand(t, active, out); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if q == nil || q.Domain == "" {
		return fmt.Errorf("%w: %q", ErrUnqualified, addr)
	}
	*out = append(*out, addr+"@"+q.Domain)
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// LoadAliases reads an aliases file; see [ParseAliases] for the format.
func LoadAliases(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	aliases, err := ParseAliases(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return aliases, nil
}

// ParseAliases reads aliases in the format of aliases(5) and msmtp:
//
//	# comment
//	root: admin@example.org
//	team: alice@example.org, "Doe, Jane" <jane@example.org>,
//	      bob
//	default: postmaster@example.org
//
// A line whose first character is "#" is a comment; empty lines are
// ignored; a line starting with white space continues the entry above. The
// name before the colon is a local name, compared without regard to case;
// the targets are a comma-separated list of addresses (display names are
// dropped) or other local names. A name defined twice, a line without a
// colon and an entry without targets are errors wrapping [ErrBadAliases].
func ParseAliases(r io.Reader) (map[string][]string, error) {
	aliases := make(map[string][]string)
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var entry string
	entryLine, lineNo := 0, 0
	finish := func() error {
		if entry == "" {
			return nil
		}
		defer func() { entry = "" }()
		name, value, ok := strings.Cut(entry, ":")
		name = strings.ToLower(strings.TrimSpace(name))
		if !ok || name == "" || strings.ContainsAny(name, " \t@,\"<>") {
			return fmt.Errorf("%w: line %d: want \"name: address[, address...]\"", ErrBadAliases, entryLine)
		}
		if _, dup := aliases[name]; dup {
			return fmt.Errorf("%w: line %d: %q defined twice", ErrBadAliases, entryLine, name)
		}
		var targets []string
		for _, item := range splitAliasTargets(value) {
			target, err := aliasTarget(item)
			if err != nil {
				return fmt.Errorf("line %d: %w", entryLine, err)
			}
			targets = append(targets, target)
		}
		if len(targets) == 0 {
			return fmt.Errorf("%w: line %d: %q has no address", ErrBadAliases, entryLine, name)
		}
		aliases[name] = targets
		return nil
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimSuffix(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(line, "#"):
			continue
		case strings.TrimSpace(line) == "":
			continue
		case line[0] == ' ' || line[0] == '\t':
			if entry == "" {
				return nil, fmt.Errorf("%w: line %d: continuation line without an entry", ErrBadAliases, lineNo)
			}
			entry += " " + strings.TrimSpace(line)
			continue
		}
		if err := finish(); err != nil {
			return nil, err
		}
		entry, entryLine = line, lineNo
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return aliases, nil
}

// splitAliasTargets splits at commas outside quotes and angle brackets.
// Unlike a header address list there are no groups: "|cmd" and ":include:"
// targets must come through intact to be refused with a clear error.
func splitAliasTargets(s string) []string {
	var items []string
	inQuote, inAngle := false, false
	start := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case inQuote:
			inQuote = c != '"'
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == ',' && !inAngle:
			items = append(items, s[start:i])
			start = i + 1
		}
	}
	items = append(items, s[start:])
	var out []string
	for _, item := range items {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// aliasTarget reduces one alias target to an addr-spec or local name.
func aliasTarget(item string) (string, error) {
	if strings.HasPrefix(item, "|") || strings.HasPrefix(item, "/") || strings.HasPrefix(strings.ToLower(item), ":include:") {
		// Kept so that using the alias fails clearly, while a system aliases
		// file with such entries can still serve its other names.
		return item, nil
	}
	if isBareLocal(item) {
		return item, nil
	}
	a, err := addressParser.Parse(item)
	if err != nil {
		if lt, gt := strings.IndexByte(item, '<'), strings.LastIndexByte(item, '>'); lt >= 0 && gt > lt && isBareLocal(strings.TrimSpace(item[lt+1:gt])) {
			return strings.TrimSpace(item[lt+1 : gt]), nil
		}
		return "", fmt.Errorf("%w: %q: %v", ErrBadAliases, item, err)
	}
	return a.Address, nil
}
