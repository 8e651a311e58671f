package account

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Setting is one resolved setting, for display.
type Setting struct {
	// Key is as in the file: "host", "oauth2.token_url".
	Key string
	// Value is in TOML syntax; secrets written in a file or given in the
	// environment are "***".
	Value string
	// Origin is where it came from, as [Account.Origin] says.
	Origin string
}

// Settings lists every setting that is set, in the order of the file
// format, with secrets masked.
func (a *Account) Settings() []Setting {
	if a.merged == nil {
		return nil
	}
	var out []Setting
	add := func(v reflect.Value, fields []field, prefix string) {
		for _, f := range fields {
			fv := v.Field(f.index)
			if fv.IsNil() || f.key == "oauth2" || f.key == "extends" {
				continue
			}
			s := formatValue(fv.Interface())
			if f.secret {
				s = `"***"`
			}
			out = append(out, Setting{Key: prefix + f.key, Value: s, Origin: a.merged.origins[prefix+f.key].String()})
		}
	}
	add(reflect.ValueOf(a.merged).Elem(), profileFields, "")
	if a.merged.OAuth2 != nil {
		add(reflect.ValueOf(a.merged.OAuth2).Elem(), oauth2Fields, "oauth2.")
	}
	return out
}

func formatValue(v any) string {
	switch x := v.(type) {
	case *string:
		return strconv.Quote(*x)
	case *int64:
		return strconv.FormatInt(*x, 10)
	case *bool:
		return strconv.FormatBool(*x)
	case *[]string:
		q := make([]string, len(*x))
		for i, s := range *x {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case string:
		return strconv.Quote(x)
	case []any:
		q := make([]string, len(x))
		for i, e := range x {
			q[i] = formatValue(e)
		}
		return "[" + strings.Join(q, ", ") + "]"
	case []string:
		return formatValue(&x)
	}
	return fmt.Sprint(v)
}
