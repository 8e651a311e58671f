// Package integration runs outbox against a real Postfix (submission, TLS,
// Dovecot SASL) and a real Dovecot (LMTP) on 127.0.0.1, as started by
// scripts/mailserver, and compares what was delivered with what was sent.
//
// The tests read the OUTBOX_IT_* variables that scripts/mailserver writes to
// DIR/env. Without OUTBOX_IT_DIR they skip, so that "go test ./..." needs no
// mail server; with OUTBOX_IT_REQUIRED=1 they fail instead of skipping.
// scripts/test starts the servers and runs them when it runs as root or
// with OUTBOX_INTEGRATION=1:
//
//	scripts/mailserver start DIR
//	set -a; . DIR/env; set +a
//	OUTBOX_IT_REQUIRED=1 go test -race -count=1 -v ./integration/...
//
// OUTBOX_IT_BIN names an outbox binary to test instead of building one.
package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// servers is the mail server environment, or nil when OUTBOX_IT_DIR is not
// set. outboxBin is the outbox binary built by TestMain.
var (
	servers   *mailEnv
	outboxBin string
)

// mailEnv holds the OUTBOX_IT_* variables (see scripts/README-mailserver.md).
type mailEnv struct {
	Dir          string
	Submission   string // STARTTLS offered, AUTH after TLS
	Submissions  string // implicit TLS
	TLSReq       string // STARTTLS required
	Plain        string // no TLS, no AUTH, relays for 127.0.0.0/8
	Small        string // like Submission with a small message_size_limit
	LMTP         string // Dovecot LMTP
	SizeLimit    int64
	SmallLimit   int64
	CA           string
	TLSName      string
	Domain       string
	MailLog      string
	DovecotLog   string
	Mechs        []string
	User         string
	Password     string
	UserMaildir  string
	User2        string
	Password2    string
	User2Maildir string
	UTF8Addr     string
	UTF8Maildir  string
	Unknown      string
	RelayMaildir string
	// PostmasterMaildir is not in the env file: it is the fourth Maildir
	// the server makes, next to alice's.
	PostmasterMaildir string
}

const skipMessage = "integration tests skipped: OUTBOX_IT_DIR is not set. " +
	"Start the servers as root with 'scripts/mailserver start DIR', then " +
	"'set -a; . DIR/env; set +a' and run 'go test ./integration/...' " +
	"(scripts/test does this as root or with OUTBOX_INTEGRATION=1)"

// need returns the mail servers, or skips the test when there are none
// (fails it when OUTBOX_IT_REQUIRED=1).
func need(t *testing.T) *mailEnv {
	t.Helper()
	if servers == nil {
		if os.Getenv("OUTBOX_IT_REQUIRED") == "1" {
			t.Fatal("OUTBOX_IT_REQUIRED=1 but " + skipMessage)
		}
		t.Skip(skipMessage)
	}
	return servers
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("OUTBOX_IT_DIR") == "" {
		if os.Getenv("OUTBOX_IT_REQUIRED") == "1" {
			fmt.Fprintln(os.Stderr, "integration: OUTBOX_IT_REQUIRED=1 but "+skipMessage)
			return 1
		}
		return m.Run() // every test skips with skipMessage
	}
	env, err := loadEnv(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	// The servers must be up: a set OUTBOX_IT_DIR with nothing listening is
	// a broken setup, not a reason to skip.
	for _, addr := range []string{env.Submission, env.Submissions, env.TLSReq, env.Plain, env.Small, env.LMTP} {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "integration: OUTBOX_IT_DIR=%s is set but %s does not answer: %v (is scripts/mailserver running?)\n", env.Dir, addr, err)
			return 1
		}
		c.Close()
	}
	bin, cleanup, err := buildOutbox()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer cleanup()
	outboxBin, servers = bin, env
	return m.Run()
}

// buildOutbox builds the binary under test from the module root, with the
// race detector when the tests have it. OUTBOX_IT_BIN names a binary to use
// instead.
func buildOutbox() (bin string, cleanup func(), err error) {
	if bin := os.Getenv("OUTBOX_IT_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		return abs, func() {}, err
	}
	tmp, err := os.MkdirTemp("", "outbox-it-bin")
	if err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	bin = filepath.Join(tmp, "outbox")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "..")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("building outbox: %w", err)
	}
	return bin, cleanup, nil
}

// loadEnv reads the OUTBOX_IT_* variables; every one the tests use must be
// set.
func loadEnv(getenv func(string) string) (*mailEnv, error) {
	var missing []string
	get := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	num := func(name string) int64 {
		v := get(name)
		n, err := strconv.ParseInt(v, 10, 64)
		if v != "" && err != nil {
			missing = append(missing, name+" (not a number)")
		}
		return n
	}
	e := &mailEnv{
		Dir:          get("OUTBOX_IT_DIR"),
		Submission:   get("OUTBOX_IT_SUBMISSION"),
		Submissions:  get("OUTBOX_IT_SUBMISSIONS"),
		TLSReq:       get("OUTBOX_IT_TLSREQ"),
		Plain:        get("OUTBOX_IT_PLAIN"),
		Small:        get("OUTBOX_IT_SMALL"),
		LMTP:         get("OUTBOX_IT_LMTP"),
		SizeLimit:    num("OUTBOX_IT_SIZE_LIMIT"),
		SmallLimit:   num("OUTBOX_IT_SMALL_SIZE_LIMIT"),
		CA:           get("OUTBOX_IT_CA"),
		TLSName:      get("OUTBOX_IT_TLS_NAME"),
		Domain:       get("OUTBOX_IT_DOMAIN"),
		MailLog:      get("OUTBOX_IT_MAILLOG"),
		DovecotLog:   get("OUTBOX_IT_DOVECOTLOG"),
		Mechs:        strings.Fields(get("OUTBOX_IT_AUTH_MECHS")),
		User:         get("OUTBOX_IT_USER"),
		Password:     get("OUTBOX_IT_PASSWORD"),
		UserMaildir:  get("OUTBOX_IT_USER_MAILDIR"),
		User2:        get("OUTBOX_IT_USER2"),
		Password2:    get("OUTBOX_IT_PASSWORD2"),
		User2Maildir: get("OUTBOX_IT_USER2_MAILDIR"),
		UTF8Addr:     get("OUTBOX_IT_UTF8_ADDR"),
		UTF8Maildir:  get("OUTBOX_IT_UTF8_MAILDIR"),
		Unknown:      get("OUTBOX_IT_UNKNOWN"),
		RelayMaildir: get("OUTBOX_IT_RELAY_MAILDIR"),
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("OUTBOX_IT_DIR is set but these are not: %s (source DIR/env with 'set -a; . DIR/env; set +a')", strings.Join(missing, ", "))
	}
	e.PostmasterMaildir = filepath.Join(filepath.Dir(e.UserMaildir), "postmaster")
	return e, nil
}
