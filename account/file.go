package account

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// SystemConfigFile is the configuration file used when the user has none.
const SystemConfigFile = "/etc/outbox/config.toml"

// Config is a configuration file, loaded and checked: every account's
// inheritance is resolved and every value is valid.
type Config struct {
	// Path is the file it was read from.
	Path string
	// DefaultAccount is default_account, or "".
	DefaultAccount string

	defaults *profile
	accounts map[string]*profile // with extends and [defaults] applied
}

// Accounts returns the account names, sorted.
func (c *Config) Accounts() []string {
	names := make([]string, 0, len(c.accounts))
	for n := range c.accounts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FindConfig returns the configuration file to use: -C/--config, else
// $OUTBOX_CONFIG, else $XDG_CONFIG_HOME/outbox/config.toml (by default
// ~/.config/outbox/config.toml), else systemFile (normally
// [SystemConfigFile]). The first two must exist; the others are skipped
// when missing. It returns "" when there is no file, which is fine when
// flags or the environment give a server.
func FindConfig(flags, env Layer, getenv func(string) string, systemFile string) (string, error) {
	flags.env, env.env = false, true
	for _, l := range []*Layer{&flags, &env} {
		if l.ConfigFile == "" {
			continue
		}
		if _, err := os.Stat(l.ConfigFile); err != nil {
			e := l.origin(fieldConfig).errorf(ErrNotFound, "", "cannot read configuration file: %v", err)
			e.Err = err
			return "", e
		}
		return l.ConfigFile, nil
	}
	var candidates []string
	if x := getenv(EnvXDGConfigHome); x != "" && filepath.IsAbs(x) {
		candidates = append(candidates, filepath.Join(x, "outbox", "config.toml"))
	} else if h := getenv(EnvHome); h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", "outbox", "config.toml"))
	}
	if systemFile != "" {
		candidates = append(candidates, systemFile)
	}
	for _, c := range candidates {
		_, err := os.Stat(c)
		if err == nil {
			return c, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", &Error{Kind: ErrNotFound, File: c, Msg: "cannot read configuration file", Err: err}
		}
	}
	return "", nil
}

// Load reads and checks a configuration file. getenv serves ${VAR}
// expansion and ~ in file names; it is usually os.Getenv.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{Kind: ErrNotFound, File: path, Msg: "cannot read configuration file: " + unwrapPathError(err), Err: err}
	}
	c, err := parse(path, data, getenv)
	if err != nil {
		return nil, err
	}
	if key, ok := c.holdsSecret(); ok {
		if err := checkPrivate(path); err != nil {
			err.Msg = fmt.Sprintf("the file holds a secret (%s) and is readable by others", key)
			return nil, err
		}
	}
	return c, nil
}

func unwrapPathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// checkPrivate refuses a file that group or others may read or write.
// Windows has no such mode bits.
func checkPrivate(path string) *Error {
	if runtime.GOOS == "windows" {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return &Error{Kind: ErrNotFound, File: path, Msg: err.Error(), Err: err}
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &Error{Kind: ErrPermissions, File: path, Msg: fmt.Sprintf("mode %04o lets others read it", fi.Mode().Perm())}
	}
	return nil
}

func (c *Config) holdsSecret() (string, bool) {
	if c.defaults != nil {
		if k, ok := c.defaults.holdsSecret(); ok {
			return "defaults." + k, true
		}
	}
	for _, name := range c.Accounts() {
		if k, ok := c.accounts[name].holdsSecret(); ok {
			return "accounts." + name + "." + k, true
		}
	}
	return "", false
}

// parse decodes data strictly and checks it.
func parse(path string, data []byte, getenv func(string) string) (*Config, error) {
	var fc fileConfig
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, decodeError(path, err)
	}
	pos := positions(path, data)
	at := func(key string) origin {
		if o, ok := pos[key]; ok {
			return o
		}
		return origin{file: path}
	}
	c := &Config{Path: path, accounts: map[string]*profile{}}
	dir := filepath.Dir(path)
	prep := func(p *profile, prefix string) (*profile, error) {
		if p == nil {
			p = &profile{}
		}
		p.origins = map[string]origin{}
		recordOrigins(p, prefix, at)
		if err := expandProfile(p, prefix, getenv, dir); err != nil {
			return nil, err
		}
		return p, nil
	}
	var err error
	if c.defaults, err = prep(fc.Defaults, "defaults."); err != nil {
		return nil, err
	}
	if fc.Defaults != nil && fc.Defaults.Extends != nil {
		return nil, at("defaults.extends").errorf(ErrValue, "defaults.extends", "[defaults] cannot extend an account")
	}
	raw := map[string]*profile{}
	for name, p := range fc.Accounts {
		if raw[name], err = prep(p, "accounts."+name+"."); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p, err := resolveExtends(name, raw, c.defaults, at)
		if err != nil {
			return nil, err
		}
		c.accounts[name] = p
	}
	if fc.DefaultAccount != nil {
		d := *fc.DefaultAccount
		if _, ok := c.accounts[d]; !ok {
			e := at("default_account").errorf(ErrUnknownAccount, "default_account", "no account named %q", d)
			e.Suggestion = suggest(d, names)
			return nil, e
		}
		c.DefaultAccount = d
	}
	// Check every value now, so that a mistake in an account not used
	// today is still reported by 'outbox config check'.
	if _, err := build(c.defaults.clone(), "", path, &env{getenv: getenv}); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := build(c.accounts[name].clone(), name, path, &env{getenv: getenv}); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// resolveExtends returns the account with its extends chain and
// [defaults] applied.
func resolveExtends(name string, raw map[string]*profile, defaults *profile, at func(string) origin) (*profile, error) {
	p := raw[name].clone()
	seen := []string{name}
	cur := raw[name]
	for cur.Extends != nil {
		parent := *cur.Extends
		key := "accounts." + seen[len(seen)-1] + ".extends"
		next, ok := raw[parent]
		if !ok {
			names := make([]string, 0, len(raw))
			for n := range raw {
				names = append(names, n)
			}
			e := at(key).errorf(ErrUnknownAccount, key, "no account named %q to extend", parent)
			e.Suggestion = suggest(parent, names)
			return nil, e
		}
		for _, s := range seen {
			if s == parent {
				return nil, at(key).errorf(ErrCycle, key, "extends loops: %s -> %s", strings.Join(seen, " -> "), parent)
			}
		}
		seen = append(seen, parent)
		p.inherit(next)
		cur = next
	}
	p.inherit(defaults)
	p.Extends = nil
	return p, nil
}

// recordOrigins stores the file position of every key set in p.
func recordOrigins(p *profile, prefix string, at func(string) origin) {
	v := reflect.ValueOf(p).Elem()
	for _, f := range profileFields {
		if !v.Field(f.index).IsNil() && f.key != "oauth2" {
			p.origins[f.key] = at(prefix + f.key)
		}
	}
	if p.OAuth2 != nil {
		p.origins["oauth2"] = at(prefix + "oauth2")
		v := reflect.ValueOf(p.OAuth2).Elem()
		for _, f := range oauth2Fields {
			if !v.Field(f.index).IsNil() {
				p.origins["oauth2."+f.key] = at(prefix + "oauth2." + f.key)
			}
		}
	}
}

// positions maps every dotted key of the document to the position of its
// value (or of its key when the value has no recorded position).
func positions(path string, data []byte) map[string]origin {
	out := map[string]origin{}
	var p unstable.Parser
	p.Reset(data)
	at := func(n *unstable.Node) origin {
		s := p.Shape(n.Raw)
		return origin{file: path, line: s.Start.Line, col: s.Start.Column}
	}
	keyParts := func(it unstable.Iterator) ([]string, *unstable.Node) {
		var parts []string
		var first *unstable.Node
		for it.Next() {
			if first == nil {
				first = it.Node()
			}
			parts = append(parts, string(it.Node().Data))
		}
		return parts, first
	}
	var walk func(prefix []string, kv *unstable.Node)
	walk = func(prefix []string, kv *unstable.Node) {
		parts, first := keyParts(kv.Key())
		full := append(append([]string(nil), prefix...), parts...)
		o := at(first)
		if v := kv.Value(); v.Raw.Length > 0 {
			o = at(v)
		}
		out[strings.Join(full, ".")] = o
		if v := kv.Value(); v.Kind == unstable.InlineTable {
			it := v.Children()
			for it.Next() {
				walk(full, it.Node())
			}
		}
	}
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, first := keyParts(e.Key())
			table = parts
			if _, ok := out[strings.Join(parts, ".")]; !ok && first != nil {
				out[strings.Join(parts, ".")] = at(first)
			}
		case unstable.KeyValue:
			walk(table, e)
		}
	}
	return out
}

var typeErrorRE = regexp.MustCompile(`cannot decode TOML (.+?) into`)

// decodeError turns a go-toml error into an *Error with a position, the
// key's dotted path, and a suggestion for a near-miss key.
func decodeError(path string, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		de := strict.Errors[0]
		line, col := de.Position()
		key := []string(de.Key())
		// go-toml reports the whole key of a table; blame its first part
		// that is not known.
		for i := range key {
			if valid, anyName := validKeys(key[:i]); !anyName && !contains(valid, key[i]) {
				key = key[:i+1]
				break
			}
		}
		e := &Error{Kind: ErrUnknownKey, File: path, Line: line, Column: col, Key: strings.Join(key, "."), Msg: "unknown key"}
		if len(strict.Errors) > 1 {
			e.Msg = fmt.Sprintf("unknown key (and %d more)", len(strict.Errors)-1)
		}
		if len(key) > 0 {
			valid, _ := validKeys(key[:len(key)-1])
			e.Suggestion = suggest(key[len(key)-1], valid)
		}
		return e
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		key := []string(de.Key())
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if m := typeErrorRE.FindStringSubmatch(msg); m != nil {
			return &Error{Kind: ErrType, File: path, Line: line, Column: col, Key: strings.Join(key, "."),
				Msg: fmt.Sprintf("expected %s, found a TOML %s", expectedType(key), m[1])}
		}
		return &Error{Kind: ErrSyntax, File: path, Line: line, Column: col, Msg: msg, Err: err}
	}
	return &Error{Kind: ErrSyntax, File: path, Msg: err.Error(), Err: err}
}

// validKeys lists the keys allowed inside the table at path; anyName is
// true where any name goes (account names).
func validKeys(path []string) (keys []string, anyName bool) {
	switch {
	case len(path) == 0:
		return keysOf(topFields), false
	case len(path) == 1 && path[0] == "accounts":
		return nil, true
	case path[0] == "defaults" && len(path) == 1, path[0] == "accounts" && len(path) == 2:
		return keysOf(profileFields), false
	case len(path) >= 2 && path[len(path)-1] == "oauth2":
		return keysOf(oauth2Fields), false
	}
	return nil, false
}

// expectedType describes the TOML type the key at path needs.
func expectedType(path []string) string {
	if len(path) == 0 {
		return "a table"
	}
	var fields []field
	switch {
	case len(path) == 1:
		fields = topFields
	case len(path) >= 2 && path[len(path)-2] == "oauth2":
		fields = oauth2Fields
	default:
		fields = profileFields
	}
	last := path[len(path)-1]
	for _, f := range fields {
		if f.key != last {
			continue
		}
		t := f.typ
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch t.Kind() {
		case reflect.String:
			return "a string"
		case reflect.Int64:
			return "an integer"
		case reflect.Bool:
			return "true or false"
		case reflect.Slice:
			return "a list of strings"
		case reflect.Interface:
			return "a string or a list of strings"
		}
		return "a table"
	}
	return "a table"
}
