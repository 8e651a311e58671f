package account

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
)

// expand replaces ${NAME} in s with the value of the environment variable
// NAME; $${ is a literal ${. Only this form is expanded, and never through
// a shell. An unset variable is an error: a silently empty host or user is
// worse than a clear message.
func expand(s string, getenv func(string) string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		if i > 0 && s[i-1] == '$' {
			b.WriteString(s[:i-1]) // the first $ escapes the second
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+end]
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable name %q in ${...}", name)
		}
		v := getenv(name)
		if v == "" {
			return "", &undefinedVar{name}
		}
		b.WriteString(v)
		s = s[i+end+1:]
	}
}

type undefinedVar struct{ name string }

func (u *undefinedVar) Error() string {
	return fmt.Sprintf("environment variable %s is not set", u.name)
}

func validVarName(n string) bool {
	if n == "" {
		return false
	}
	for i, r := range n {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// expandProfile expands ${VAR} in every string of p and resolves file
// names: ~/ is the home directory, a relative name is relative to dir, the
// configuration file's directory.
func expandProfile(p *profile, prefix string, getenv func(string) string, dir string) error {
	if err := expandStruct(reflect.ValueOf(p).Elem(), profileFields, "", prefix, p.origins, getenv, dir); err != nil {
		return err
	}
	if p.OAuth2 != nil {
		return expandStruct(reflect.ValueOf(p.OAuth2).Elem(), oauth2Fields, "oauth2.", prefix, p.origins, getenv, dir)
	}
	return nil
}

func expandStruct(v reflect.Value, fields []field, sub, prefix string, origins map[string]origin, getenv func(string) string, dir string) error {
	for _, f := range fields {
		fv := v.Field(f.index)
		if fv.IsNil() {
			continue
		}
		key := sub + f.key
		fail := func(err error) error {
			kind := ErrValue
			if _, ok := err.(*undefinedVar); ok {
				kind = ErrUndefinedVariable
			}
			e := origins[key].errorf(kind, prefix+key, "%v", err)
			e.Err = err
			return e
		}
		one := func(s string) (string, error) {
			s, err := expand(s, getenv)
			if err != nil {
				return "", fail(err)
			}
			if f.path {
				if s, err = resolvePath(s, getenv, dir); err != nil {
					return "", fail(err)
				}
			}
			return s, nil
		}
		switch x := fv.Interface().(type) {
		case *string:
			s, err := one(*x)
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(&s))
		case *[]string:
			out := make([]string, len(*x))
			for i, s := range *x {
				var err error
				if out[i], err = one(s); err != nil {
					return err
				}
			}
			fv.Set(reflect.ValueOf(&out))
		case string:
			s, err := one(x)
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(s))
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				if s, ok := e.(string); ok {
					var err error
					if e, err = one(s); err != nil {
						return err
					}
				}
				out[i] = e
			}
			fv.Set(reflect.ValueOf(out))
		}
	}
	return nil
}

// resolvePath expands a leading ~/ and makes a relative name relative to
// dir.
func resolvePath(s string, getenv func(string) string, dir string) (string, error) {
	if s == "~" || strings.HasPrefix(s, "~/") {
		home := getenv(EnvHome)
		if home == "" {
			return "", fmt.Errorf("cannot expand ~ in %q: HOME is not set", s)
		}
		return filepath.Join(home, s[1:]), nil
	}
	if s == "" || filepath.IsAbs(s) || dir == "" {
		return s, nil
	}
	return filepath.Join(dir, s), nil
}
