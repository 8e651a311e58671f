package account

import (
	"fmt"
	"strconv"
	"strings"
)

// Environment variables read by [FromEnv] and by the file search. They are
// documented in the man page (ENVIRONMENT); names never change.
const (
	EnvConfig            = "OUTBOX_CONFIG"              // configuration file, like -C/--config
	EnvAccount           = "OUTBOX_ACCOUNT"             // account name, like -a/--account
	EnvServer            = "OUTBOX_SERVER"              // HOST[:PORT], like -S/--server
	EnvPort              = "OUTBOX_PORT"                // port, when OUTBOX_SERVER has none
	EnvTLS               = "OUTBOX_TLS"                 // starttls, implicit or none, like --tls
	EnvTLSCA             = "OUTBOX_TLS_CA"              // CA file, like --tls-ca
	EnvTLSPin            = "OUTBOX_TLS_PIN"             // pins separated by commas or spaces, like --tls-pin
	EnvTLSClientCert     = "OUTBOX_TLS_CLIENT_CERT"     // like --tls-client-cert
	EnvTLSClientKey      = "OUTBOX_TLS_CLIENT_KEY"      // like --tls-client-key
	EnvTLSServerName     = "OUTBOX_TLS_SERVER_NAME"     // like tls_server_name
	EnvTLSMinVersion     = "OUTBOX_TLS_MIN_VERSION"     // like tls_min_version
	EnvAuth              = "OUTBOX_AUTH"                // auto, none or MECH[,MECH...], like --auth
	EnvAllowInsecureAuth = "OUTBOX_ALLOW_INSECURE_AUTH" // true or false, like --allow-insecure-auth
	EnvUser              = "OUTBOX_USER"                // like -u/--user
	EnvPassword          = "OUTBOX_PASSWORD"            // the password itself (CI secrets)
	EnvPasswordCommand   = "OUTBOX_PASSWORD_COMMAND"    // like --password-command
	EnvPasswordFile      = "OUTBOX_PASSWORD_FILE"       // like --password-file
	EnvFrom              = "OUTBOX_FROM"                // envelope sender, like -f/--from
	EnvEHLO              = "OUTBOX_EHLO"                // like --ehlo
	EnvTimeout           = "OUTBOX_TIMEOUT"             // like --timeout
	EnvDSNNotify         = "OUTBOX_DSN_NOTIFY"          // like --dsn-notify
	EnvDSNReturn         = "OUTBOX_DSN_RETURN"          // like --dsn-return
	EnvPartial           = "OUTBOX_PARTIAL"             // continue or abort, like --partial
	EnvQueue             = "OUTBOX_QUEUE"               // auto, always or never, like --queue
	EnvQueueDir          = "OUTBOX_QUEUE_DIR"           // the queue directory, like --queue-dir
	EnvFlushAfterSend    = "OUTBOX_FLUSH_AFTER_SEND"    // true or false, like flush_after_send
	EnvNotifyFailures    = "OUTBOX_NOTIFY_FAILURES"     // true or false, like notify_failures

	// Used to find the configuration file.
	EnvXDGConfigHome = "XDG_CONFIG_HOME"
	EnvXDGCacheHome  = "XDG_CACHE_HOME"
	EnvHome          = "HOME"
)

// Layer is one layer of settings over the configuration file: the command
// line flags or the environment. An empty string (nil slice, nil pointer)
// means "not given". cmd fills one from flags; [FromEnv] makes the other.
type Layer struct {
	ConfigFile string // -C/--config
	Account    string // -a/--account

	Server        string   // -S/--server HOST[:PORT]; IPv6 as [ADDR]:PORT
	Port          string   // a port when Server has none
	TLS           string   // --tls starttls|implicit|none
	TLSCA         string   // --tls-ca FILE
	TLSPins       []string // --tls-pin, repeatable
	TLSClientCert string   // --tls-client-cert FILE
	TLSClientKey  string   // --tls-client-key FILE
	TLSServerName string
	TLSMinVersion string

	Auth              string // --auth auto|none|MECH[,MECH...]
	AllowInsecureAuth *bool  // --allow-insecure-auth
	User              string // -u/--user
	// Password is the password itself. Only the environment gives one; a
	// flag would show it to every user of ps.
	Password        string
	PasswordEnv     string // --password-env NAME
	PasswordCommand string // --password-command "CMD ARG...", split without a shell
	PasswordFile    string // --password-file FILE

	From            string // -f/--from: the envelope sender, also used to pick the account
	EHLOName        string // --ehlo
	Timeout         string // --timeout, a duration such as 30s or 5m
	DSNNotify       string // --dsn-notify never|success,failure,delay
	DSNReturn       string // --dsn-return full|headers
	DSNEnvID        string // --dsn-envid
	OnPartialReject string // --partial continue|abort

	Queue          string // --queue auto|always|never
	QueueDir       string // --queue-dir DIR
	FlushAfterSend *bool
	NotifyFailures *bool

	// env is true for the layer made by FromEnv; errors then name
	// environment variables instead of flags.
	env bool
}

// FromEnv reads the OUTBOX_* variables into a layer. getenv is usually
// os.Getenv.
func FromEnv(getenv func(string) string) (Layer, error) {
	l := Layer{
		env:             true,
		ConfigFile:      getenv(EnvConfig),
		Account:         getenv(EnvAccount),
		Server:          getenv(EnvServer),
		Port:            getenv(EnvPort),
		TLS:             getenv(EnvTLS),
		TLSCA:           getenv(EnvTLSCA),
		TLSClientCert:   getenv(EnvTLSClientCert),
		TLSClientKey:    getenv(EnvTLSClientKey),
		TLSServerName:   getenv(EnvTLSServerName),
		TLSMinVersion:   getenv(EnvTLSMinVersion),
		Auth:            getenv(EnvAuth),
		User:            getenv(EnvUser),
		Password:        getenv(EnvPassword),
		PasswordCommand: getenv(EnvPasswordCommand),
		PasswordFile:    getenv(EnvPasswordFile),
		From:            getenv(EnvFrom),
		EHLOName:        getenv(EnvEHLO),
		Timeout:         getenv(EnvTimeout),
		DSNNotify:       getenv(EnvDSNNotify),
		DSNReturn:       getenv(EnvDSNReturn),
		OnPartialReject: getenv(EnvPartial),
		Queue:           getenv(EnvQueue),
		QueueDir:        getenv(EnvQueueDir),
	}
	if pins := getenv(EnvTLSPin); pins != "" {
		l.TLSPins = strings.FieldsFunc(pins, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	}
	for _, b := range []struct {
		name string
		dst  **bool
	}{{EnvAllowInsecureAuth, &l.AllowInsecureAuth}, {EnvFlushAfterSend, &l.FlushAfterSend}, {EnvNotifyFailures, &l.NotifyFailures}} {
		v := getenv(b.name)
		if v == "" {
			continue
		}
		x, err := parseBool(v)
		if err != nil {
			return l, &Error{Kind: ErrValue, Source: b.name, Msg: err.Error()}
		}
		*b.dst = &x
	}
	return l, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "on":
		return true, nil
	case "no", "off":
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("want true or false, got %q", s)
	}
	return b, nil
}

// layerField maps a Layer setting to its profile key and to the names the
// user knows it by.
type layerField struct {
	key  string // profile key, as in the file
	flag string // "-S/--server"
	env  string
}

var (
	fieldServer        = layerField{"host", "-S/--server", EnvServer}
	fieldPort          = layerField{"port", "-S/--server", EnvPort}
	fieldTLS           = layerField{"tls", "--tls", EnvTLS}
	fieldTLSCA         = layerField{"tls_ca", "--tls-ca", EnvTLSCA}
	fieldTLSPin        = layerField{"tls_pin", "--tls-pin", EnvTLSPin}
	fieldTLSClientCert = layerField{"tls_client_cert", "--tls-client-cert", EnvTLSClientCert}
	fieldTLSClientKey  = layerField{"tls_client_key", "--tls-client-key", EnvTLSClientKey}
	fieldTLSServerName = layerField{"tls_server_name", "--tls-server-name", EnvTLSServerName}
	fieldTLSMinVersion = layerField{"tls_min_version", "--tls-min-version", EnvTLSMinVersion}
	fieldAuth          = layerField{"auth", "--auth", EnvAuth}
	fieldAllowInsecure = layerField{"allow_insecure_auth", "--allow-insecure-auth", EnvAllowInsecureAuth}
	fieldUser          = layerField{"user", "-u/--user", EnvUser}
	fieldPassword      = layerField{"password", "", EnvPassword}
	fieldPasswordEnv   = layerField{"password_env", "--password-env", ""}
	fieldPasswordCmd   = layerField{"password_command", "--password-command", EnvPasswordCommand}
	fieldPasswordFile  = layerField{"password_file", "--password-file", EnvPasswordFile}
	fieldFrom          = layerField{"from", "-f/--from", EnvFrom}
	fieldEHLO          = layerField{"ehlo_name", "--ehlo", EnvEHLO}
	fieldTimeout       = layerField{"timeout", "--timeout", EnvTimeout}
	fieldDSNNotify     = layerField{"dsn_notify", "--dsn-notify", EnvDSNNotify}
	fieldDSNReturn     = layerField{"dsn_return", "--dsn-return", EnvDSNReturn}
	fieldDSNEnvID      = layerField{"dsn_envid", "--dsn-envid", ""}
	fieldPartial       = layerField{"on_partial_reject", "--partial", EnvPartial}
	fieldQueue         = layerField{"queue", "--queue", EnvQueue}
	fieldQueueDir      = layerField{"queue_dir", "--queue-dir", EnvQueueDir}
	fieldFlushAfter    = layerField{"flush_after_send", "", EnvFlushAfterSend}
	fieldNotify        = layerField{"notify_failures", "", EnvNotifyFailures}
	fieldAccount       = layerField{"", "-a/--account", EnvAccount}
	fieldConfig        = layerField{"", "-C/--config", EnvConfig}
)

func (l *Layer) origin(f layerField) origin {
	if l.env {
		return origin{source: f.env}
	}
	return origin{source: f.flag}
}

// empty reports whether the layer sets nothing.
func (l *Layer) setsServer() bool { return l.Server != "" }
