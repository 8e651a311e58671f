package account

import (
	"fmt"
	"strings"
)

// ErrorKind classifies configuration errors.
type ErrorKind int

const (
	// ErrSyntax is malformed TOML.
	ErrSyntax ErrorKind = iota + 1
	// ErrUnknownKey is a key outbox does not know, usually a typo.
	ErrUnknownKey
	// ErrType is a value of the wrong TOML type.
	ErrType
	// ErrValue is a value of the right type that is not valid.
	ErrValue
	// ErrUndefinedVariable is a ${VAR} reference to an unset variable.
	ErrUndefinedVariable
	// ErrPermissions is a file holding a secret that others may read.
	ErrPermissions
	// ErrNotFound is a configuration file that was asked for and cannot be
	// read.
	ErrNotFound
	// ErrUnknownAccount is an account name that is not in the file.
	ErrUnknownAccount
	// ErrCycle is an extends chain that loops.
	ErrCycle
	// ErrNoAccount means several accounts exist and none was chosen.
	ErrNoAccount
	// ErrNoServer means no layer gives a server to connect to.
	ErrNoServer
	// ErrSecret is a password or token source that failed.
	ErrSecret
)

var errorKindNames = map[ErrorKind]string{
	ErrSyntax:            "syntax error",
	ErrUnknownKey:        "unknown key",
	ErrType:              "wrong type",
	ErrValue:             "invalid value",
	ErrUndefinedVariable: "undefined variable",
	ErrPermissions:       "unsafe permissions",
	ErrNotFound:          "file not found",
	ErrUnknownAccount:    "unknown account",
	ErrCycle:             "extends cycle",
	ErrNoAccount:         "no account chosen",
	ErrNoServer:          "no server",
	ErrSecret:            "secret unavailable",
}

func (k ErrorKind) String() string {
	if s, ok := errorKindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is a configuration error. Test for it with [errors.As].
type Error struct {
	Kind ErrorKind
	// File, Line and Column locate the setting in a configuration file;
	// Line is 0 when the error concerns the whole file.
	File   string
	Line   int
	Column int
	// Source names the flag (e.g. "--tls") or environment variable (e.g.
	// "OUTBOX_TLS") that gave the setting, when it did not come from a
	// file.
	Source string
	// Key is the setting's dotted path, e.g. "accounts.work.tls".
	Key string
	// Msg says what is wrong.
	Msg string
	// Suggestion is the near miss the user probably meant, if any.
	Suggestion string
	// Err is the underlying error, if any.
	Err error

	hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case strings.HasPrefix(e.Source, "-"):
		fmt.Fprintf(&b, "%s: ", e.Source)
	case e.Source != "":
		fmt.Fprintf(&b, "environment variable %s: ", e.Source)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	if e.Suggestion != "" {
		fmt.Fprintf(&b, " (did you mean %q?)", e.Suggestion)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Hint says how to fix the error, or is empty.
func (e *Error) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	switch e.Kind {
	case ErrUnknownKey:
		return "see 'outbox config example' for every key"
	case ErrPermissions:
		return "chmod 600 " + e.File
	case ErrNoServer:
		return "give -S/--server HOST[:PORT], set OUTBOX_SERVER, or add an account to the configuration file ('outbox config example' shows one)"
	case ErrNoAccount:
		return "pick one with -a/--account NAME, or set default_account in the configuration file"
	case ErrUndefinedVariable:
		return "set the variable, or write $${ for a literal ${"
	}
	return ""
}

// errorf returns an error located at the origin o.
func (o origin) errorf(kind ErrorKind, key string, format string, args ...any) *Error {
	return &Error{
		Kind: kind, File: o.file, Line: o.line, Column: o.col, Source: o.source,
		Key: key, Msg: fmt.Sprintf(format, args...),
	}
}

// origin is where a setting came from: a position in a file, a flag, an
// environment variable, or a built-in default.
type origin struct {
	file      string
	line, col int
	source    string // flag ("--tls") or environment variable ("OUTBOX_TLS")
	isDefault bool
}

func (o origin) String() string {
	switch {
	case o.file != "" && o.line > 0:
		return fmt.Sprintf("%s:%d:%d", o.file, o.line, o.col)
	case o.file != "":
		return o.file
	case strings.HasPrefix(o.source, "-"):
		return "flag " + o.source
	case o.source != "":
		return "environment variable " + o.source
	case o.isDefault:
		return "default"
	}
	return ""
}

// suggest returns the candidate closest to s, if it is close enough to be
// a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", 0
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := editDistance(ls, strings.ToLower(c))
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best == "" || bestDist > limit || bestDist >= len(s) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counting an
// adjacent transposition as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
