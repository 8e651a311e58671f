package account

import (
	"reflect"
	"strings"
)

// profile is one table of settings: [defaults], an [accounts.NAME], or a
// layer of flags or environment variables turned into the same shape. A
// nil field is unset. Struct tags:
//
//	toml:"key"      the key in the file
//	group:"name"    fields of one group are inherited together: a profile
//	                that sets one of them hides all of the parent's
//	secret:"true"   shown as *** and makes the file need mode 600
//	path:"true"     a file name: ~ and relative names are resolved
type profile struct {
	Extends *string `toml:"extends"`

	Host          *string `toml:"host"`
	Port          *int64  `toml:"port"`
	TLS           *string `toml:"tls"`
	TLSCA         *string `toml:"tls_ca" path:"true"`
	TLSPin        any     `toml:"tls_pin"` // a string or a list of strings
	TLSClientCert *string `toml:"tls_client_cert" path:"true"`
	TLSClientKey  *string `toml:"tls_client_key" path:"true"`
	TLSMinVersion *string `toml:"tls_min_version"`
	TLSServerName *string `toml:"tls_server_name"`

	Auth              any            `toml:"auth"` // "auto", "none", "MECH,MECH" or a list
	AllowInsecureAuth *bool          `toml:"allow_insecure_auth"`
	User              *string        `toml:"user"`
	Password          *string        `toml:"password" group:"password" secret:"true"`
	PasswordCommand   *[]string      `toml:"password_command" group:"password"`
	PasswordEnv       *string        `toml:"password_env" group:"password"`
	PasswordFile      *string        `toml:"password_file" group:"password" path:"true"`
	Keyring           *bool          `toml:"keyring" group:"password"`
	OAuth2            *oauth2Profile `toml:"oauth2"`

	From     *string `toml:"from"`
	EHLOName *string `toml:"ehlo_name"`

	Timeout        *string `toml:"timeout"`
	ConnectTimeout *string `toml:"connect_timeout"`

	DSNNotify any     `toml:"dsn_notify"` // "never", "success,failure" or a list
	DSNReturn *string `toml:"dsn_return"`
	DSNEnvID  *string `toml:"dsn_envid"`

	OnPartialReject *string `toml:"on_partial_reject"`

	AddDate      *bool `toml:"add_date"`
	AddMessageID *bool `toml:"add_message_id"`
	AddFrom      *bool `toml:"add_from"`

	Aliases *string `toml:"aliases" path:"true"`
	LogFile *string `toml:"log_file" path:"true"`
	Syslog  *bool   `toml:"syslog"`

	Queue          *string `toml:"queue"`
	QueueDir       *string `toml:"queue_dir" path:"true"`
	FlushAfterSend *bool   `toml:"flush_after_send"`
	NotifyFailures *bool   `toml:"notify_failures"`

	// origins holds where each set key came from, by key ("tls",
	// "oauth2.token_url").
	origins map[string]origin
	// serverSet marks a layer that gave the server as HOST[:PORT]: without
	// a port there, the port is the default, not one inherited from a lower
	// layer that named another server.
	serverSet bool
}

// oauth2Profile is the [accounts.NAME.oauth2] table.
type oauth2Profile struct {
	// A token obtained elsewhere (static source).
	TokenCommand *[]string `toml:"token_command" group:"token"`
	TokenEnv     *string   `toml:"token_env" group:"token"`
	TokenFile    *string   `toml:"token_file" group:"token" path:"true"`

	// The refresh-token flow (RFC 6749 §6).
	TokenURL            *string   `toml:"token_url"`
	ClientID            *string   `toml:"client_id"`
	ClientSecret        *string   `toml:"client_secret" group:"client_secret" secret:"true"`
	ClientSecretCommand *[]string `toml:"client_secret_command" group:"client_secret"`
	ClientSecretEnv     *string   `toml:"client_secret_env" group:"client_secret"`
	ClientSecretFile    *string   `toml:"client_secret_file" group:"client_secret" path:"true"`
	RefreshToken        *string   `toml:"refresh_token" group:"refresh_token" secret:"true"`
	RefreshTokenCommand *[]string `toml:"refresh_token_command" group:"refresh_token"`
	RefreshTokenEnv     *string   `toml:"refresh_token_env" group:"refresh_token"`
	RefreshTokenFile    *string   `toml:"refresh_token_file" group:"refresh_token" path:"true"`
	RefreshTokenKeyring *bool     `toml:"refresh_token_keyring" group:"refresh_token"`
	Scopes              *[]string `toml:"scopes"`
	// Cache keeps the access token between runs in a private file under
	// $XDG_CACHE_HOME/outbox; default true.
	Cache *bool `toml:"cache"`
}

// fileConfig is the whole file.
type fileConfig struct {
	DefaultAccount *string             `toml:"default_account"`
	Defaults       *profile            `toml:"defaults"`
	Accounts       map[string]*profile `toml:"accounts"`
}

// field describes one settable key of a struct, found by reflection so that
// adding a key to profile is all it takes.
type field struct {
	key    string
	index  int
	group  string
	secret bool
	path   bool
	typ    reflect.Type
}

func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if key == "" || key == "-" {
			continue
		}
		out = append(out, field{
			key: key, index: i, group: f.Tag.Get("group"),
			secret: f.Tag.Get("secret") == "true", path: f.Tag.Get("path") == "true",
			typ: f.Type,
		})
	}
	return out
}

var (
	profileFields = fieldsOf(reflect.TypeFor[profile]())
	oauth2Fields  = fieldsOf(reflect.TypeFor[oauth2Profile]())
	topFields     = fieldsOf(reflect.TypeFor[fileConfig]())
)

func keysOf(fs []field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.key
	}
	return out
}

// inherit fills the unset fields of p from parent. A group set in p hides
// the whole group of the parent: an account with password_env does not
// also inherit the parent's password_command.
func (p *profile) inherit(parent *profile) {
	if parent == nil {
		return
	}
	if p.origins == nil {
		p.origins = map[string]origin{}
	}
	noPort := p.serverSet && p.Port == nil
	hostFromParent := p.Host == nil && parent.Host != nil
	inheritStruct(reflect.ValueOf(p).Elem(), reflect.ValueOf(parent).Elem(), profileFields, "", p.origins, parent.origins)
	if noPort {
		p.Port = nil
		delete(p.origins, "port")
	}
	if hostFromParent && parent.serverSet {
		p.serverSet = true
	}
}

func inheritStruct(dst, src reflect.Value, fields []field, prefix string, dstOrigins, srcOrigins map[string]origin) {
	groups := map[string]bool{}
	for _, f := range fields {
		if f.group != "" && !dst.Field(f.index).IsNil() {
			groups[f.group] = true
		}
	}
	for _, f := range fields {
		d, s := dst.Field(f.index), src.Field(f.index)
		if s.IsNil() || groups[f.group] && f.group != "" {
			continue
		}
		if f.key == "oauth2" {
			if d.IsNil() {
				d.Set(reflect.New(f.typ.Elem()))
				if o, ok := srcOrigins["oauth2"]; ok {
					dstOrigins["oauth2"] = o
				}
			}
			inheritStruct(d.Elem(), s.Elem(), oauth2Fields, "oauth2.", dstOrigins, srcOrigins)
			continue
		}
		if !d.IsNil() {
			continue
		}
		d.Set(s)
		if o, ok := srcOrigins[prefix+f.key]; ok {
			dstOrigins[prefix+f.key] = o
		}
	}
}

// clone returns a shallow copy of p with its own origins map.
func (p *profile) clone() *profile {
	if p == nil {
		return &profile{origins: map[string]origin{}}
	}
	c := *p
	if p.OAuth2 != nil {
		o := *p.OAuth2
		c.OAuth2 = &o
	}
	c.origins = make(map[string]origin, len(p.origins))
	for k, v := range p.origins {
		c.origins[k] = v
	}
	return &c
}

// holdsSecret reports whether the profile has a secret written in the
// file itself, and the first such key.
func (p *profile) holdsSecret() (string, bool) {
	v := reflect.ValueOf(p).Elem()
	for _, f := range profileFields {
		if f.secret && !v.Field(f.index).IsNil() {
			return f.key, true
		}
	}
	if p.OAuth2 != nil {
		v := reflect.ValueOf(p.OAuth2).Elem()
		for _, f := range oauth2Fields {
			if f.secret && !v.Field(f.index).IsNil() {
				return "oauth2." + f.key, true
			}
		}
	}
	return "", false
}
