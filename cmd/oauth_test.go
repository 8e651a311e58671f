package cmd

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/smtp"
)

// TestOAuthTokenRenewedWhenRefused: a server that refuses the cached
// access token gets one renewed login attempt with a fresh token.
func TestOAuthTokenRenewedWhenRefused(t *testing.T) {
	var issued atomic.Int32
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := issued.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"token-%d","token_type":"Bearer","expires_in":3600}`, n)
	}))
	defer tokens.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var seen []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		say := func(s string) { fmt.Fprintf(conn, "%s\r\n", s) }
		say("220 mx.example.org")
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "EHLO"):
				say("250-mx.example.org\r\n250 AUTH XOAUTH2")
			case strings.HasPrefix(line, "AUTH XOAUTH2 "):
				ir, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(line, "AUTH XOAUTH2 "))
				seen = append(seen, string(ir))
				if strings.Contains(string(ir), "Bearer token-2") {
					say("235 2.7.0 accepted")
					continue
				}
				say("334 " + base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"bearer"}`)))
				if l, _ := br.ReadString('\n'); l != "\r\n" {
					t.Errorf("answer to the error challenge: %q", l)
				}
				say("535 5.7.8 token rejected")
			default:
				say("500 unexpected")
			}
		}
	}()

	dir := t.TempDir()
	cfg := fmt.Sprintf(`[accounts.o]
host = "127.0.0.1"
port = %d
tls = "none"
user = "u@example.org"
from = "u@example.org"
auth = ["XOAUTH2"]
allow_insecure_auth = true
[accounts.o.oauth2]
token_url = "%s/token"
client_id = "client"
client_secret = "secret"
refresh_token = "refresh"
`, ln.Addr().(*net.TCPAddr).Port, tokens.URL)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "XDG_CACHE_HOME" {
			return filepath.Join(dir, "cache")
		}
		return ""
	}
	acct, err := account.Resolve(account.Options{Flags: account.Layer{ConfigFile: path}, Getenv: getenv, SystemConfig: filepath.Join(dir, "none")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.Dial(acct.Address(), time.Second, &smtp.Options{AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello(); err != nil {
		t.Fatal(err)
	}
	if err := authenticate(context.Background(), c, acct); err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	c.Close()
	<-done
	if len(seen) != 2 || !strings.Contains(seen[0], "Bearer token-1") || !strings.Contains(seen[1], "Bearer token-2") {
		t.Errorf("logins seen: %q", seen)
	}
	if issued.Load() != 2 {
		t.Errorf("%d tokens issued, want 2", issued.Load())
	}
}
