package account

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/zalando/go-keyring"
)

// KeyringService is the service name under which outbox looks up
// passwords in the system keyring; the user name there is USER@HOST.
const KeyringService = "outbox"

// env is what secret sources may use from the outside world.
type env struct {
	getenv func(string) string
	prompt func(label string) (string, error)
	stderr io.Writer
}

// secret is a lazily fetched password or token.
type secret struct {
	desc  string
	fetch func(ctx context.Context) (string, error)
}

// once returns a function that fetches the secret on its first successful
// call and remembers it.
func (s *secret) once() func(ctx context.Context) (string, error) {
	var (
		mu  sync.Mutex
		val string
		ok  bool
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			return val, nil
		}
		v, err := s.fetch(ctx)
		if err != nil {
			return "", err
		}
		val, ok = v, true
		return val, nil
	}
}

func literalSecret(desc, v string) *secret {
	return &secret{desc: desc, fetch: func(context.Context) (string, error) { return v, nil }}
}

func secretError(o origin, key, format string, args ...any) *Error {
	e := o.errorf(ErrSecret, key, format, args...)
	return e
}

// commandSecret runs argv directly, without a shell, and takes the first
// line of its standard output. Its standard error goes to the user.
func commandSecret(key string, o origin, argv []string, e *env) (*secret, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, o.errorf(ErrValue, key, "empty command")
	}
	return &secret{desc: "command " + argv[0], fetch: func(ctx context.Context) (string, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		var out bytes.Buffer
		cmd.Stdout = &out
		cmd.Stderr = e.stderr
		if err := cmd.Run(); err != nil {
			se := secretError(o, key, "command %s failed: %v", argv[0], err)
			se.Err = err
			se.hint = "run the command yourself to see why it fails"
			return "", se
		}
		line, err := firstLine(&out)
		if err != nil {
			return "", secretError(o, key, "command %s printed nothing", argv[0])
		}
		return line, nil
	}}, nil
}

func envSecret(key string, o origin, name string, e *env) (*secret, error) {
	if !validVarName(name) {
		return nil, o.errorf(ErrValue, key, "invalid environment variable name %q", name)
	}
	return &secret{desc: "$" + name, fetch: func(context.Context) (string, error) {
		v := e.getenv(name)
		if v == "" {
			return "", secretError(o, key, "environment variable %s is not set", name)
		}
		return v, nil
	}}, nil
}

// fileSecret reads the first line of a file that only its owner may read.
func fileSecret(key string, o origin, path string, e *env) *secret {
	return &secret{desc: "file " + path, fetch: func(context.Context) (string, error) {
		if err := checkPrivate(path); err != nil {
			if err.Kind == ErrPermissions {
				err.Msg = "the password file " + err.Msg
			}
			return "", err
		}
		f, err := os.Open(path)
		if err != nil {
			se := secretError(o, key, "cannot read password file: %v", err)
			se.Err = err
			return "", se
		}
		defer f.Close()
		line, err := firstLine(f)
		if err != nil {
			return "", secretError(o, key, "password file %s is empty", path)
		}
		return line, nil
	}}
}

// keyringSecret looks the password up in the system keyring (Secret
// Service, macOS Keychain, Windows Credential Manager).
func keyringSecret(key string, o origin, a *Account, e *env) *secret {
	user := a.Auth.User + "@" + a.Host
	return &secret{desc: "keyring", fetch: func(context.Context) (string, error) {
		v, err := keyring.Get(KeyringService, user)
		if err != nil {
			se := secretError(o, key, "no password in the system keyring for %s: %v", user, err)
			se.Err = err
			se.hint = fmt.Sprintf("store it under service %q and user %q (on Linux: secret-tool store --label=outbox service %s username %s)", KeyringService, user, KeyringService, user)
			return "", se
		}
		return v, nil
	}}
}

// ErrNoTerminal is what a prompt function returns when there is no
// terminal to ask on.
var ErrNoTerminal = errors.New("no terminal to ask for the password")

func promptSecret(a *Account, e *env) *secret {
	label := fmt.Sprintf("password for %s at %s", a.Auth.User, a.Host)
	return &secret{desc: "prompt", fetch: func(context.Context) (string, error) {
		v, err := e.prompt(label)
		if err != nil {
			se := &Error{Kind: ErrSecret, Msg: fmt.Sprintf("no password for %s: %v", a.Auth.User, err), Err: err}
			if errors.Is(err, ErrNoTerminal) {
				se.hint = "configure password_command, password_env, password_file or keyring, or pass --password-command"
			}
			return "", se
		}
		return v, nil
	}}
}

// firstLine returns the first line of r without its line ending; an empty
// first line is an error.
func firstLine(r io.Reader) (string, error) {
	br := bufio.NewReader(io.LimitReader(r, 64<<10))
	line, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty")
	}
	return line, nil
}

// SplitCommand splits a command line given as one string (--password-command)
// into words, without a shell: words are separated by blanks, single quotes
// keep everything literally, double quotes and backslashes work as in sh,
// and nothing is expanded.
func SplitCommand(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		inArg bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inArg {
				words = append(words, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inArg = true
		case c == '"':
			inArg = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte(`"\$`+"`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inArg = true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}
