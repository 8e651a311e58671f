package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"
	"golang.org/x/oauth2"
)

// OAuth2 gives access tokens for XOAUTH2 and OAUTHBEARER: either from a
// static source (a command, a variable or a file that prints a token
// obtained elsewhere) or by the refresh-token flow of RFC 6749 §6, with
// the access token cached until it expires.
type OAuth2 struct {
	// Source describes where tokens come from: "token_command", "token_url".
	Source string

	static *secret

	conf         *oauth2.Config
	clientSecret *secret
	refreshToken *secret
	cachePath    string // "" when the token is not cached between runs
	now          func() time.Time

	mu  sync.Mutex
	tok *oauth2.Token
}

// expiryMargin renews a token this long before it expires, so that it does
// not expire between being fetched and being used.
const expiryMargin = time.Minute

// Token returns an access token: the one in memory or in the cache while it
// is still valid, else a new one.
func (o *OAuth2) Token(ctx context.Context) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.static != nil {
		if o.tok != nil {
			return o.tok.AccessToken, nil
		}
		v, err := o.static.fetch(ctx)
		if err != nil {
			return "", err
		}
		o.tok = &oauth2.Token{AccessToken: v}
		return v, nil
	}
	if o.tok == nil {
		o.tok = o.readCache()
	}
	if o.tok != nil && o.tok.AccessToken != "" && o.now().Add(expiryMargin).Before(o.tok.Expiry) {
		return o.tok.AccessToken, nil
	}
	return o.refresh(ctx)
}

// Renew discards the current access token, which the server rejected, and
// returns a new one.
func (o *OAuth2) Renew(ctx context.Context) (string, error) {
	o.mu.Lock()
	o.tok = nil
	if o.static != nil {
		o.mu.Unlock()
		return o.Token(ctx)
	}
	defer o.mu.Unlock()
	return o.refresh(ctx)
}

func (o *OAuth2) refresh(ctx context.Context) (string, error) {
	rt, err := o.refreshToken.fetch(ctx)
	if err != nil {
		return "", err
	}
	conf := *o.conf
	if o.clientSecret != nil {
		if conf.ClientSecret, err = o.clientSecret.fetch(ctx); err != nil {
			return "", err
		}
	}
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}).Token()
	if err != nil {
		e := &Error{Kind: ErrSecret, Msg: "cannot refresh the OAuth2 access token: " + err.Error(), Err: err}
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode == "invalid_grant" {
			e.hint = "the refresh token was revoked or has expired; authorize outbox again to get a new one"
		}
		return "", e
	}
	if tok.Expiry.IsZero() {
		// Without expires_in, assume the common lifetime of one hour
		// rather than caching the token forever.
		tok.Expiry = o.now().Add(time.Hour)
	}
	o.tok = tok
	o.writeCache(tok)
	return tok.AccessToken, nil
}

type cachedToken struct {
	AccessToken string    `json:"access_token"`
	Expiry      time.Time `json:"expiry"`
}

// readCache returns the cached token, or nil. A cache file that others
// could read is ignored.
func (o *OAuth2) readCache() *oauth2.Token {
	if o.cachePath == "" || checkPrivate(o.cachePath) != nil {
		return nil
	}
	data, err := os.ReadFile(o.cachePath)
	if err != nil {
		return nil
	}
	var c cachedToken
	if json.Unmarshal(data, &c) != nil {
		return nil
	}
	return &oauth2.Token{AccessToken: c.AccessToken, Expiry: c.Expiry}
}

// writeCache stores the token in a file only the user can read, replacing
// the old one atomically. Failing to cache is not an error: the next run
// refreshes again.
func (o *OAuth2) writeCache(tok *oauth2.Token) {
	if o.cachePath == "" {
		return
	}
	dir := filepath.Dir(o.cachePath)
	if os.MkdirAll(dir, 0o700) != nil {
		return
	}
	data, err := json.Marshal(cachedToken{AccessToken: tok.AccessToken, Expiry: tok.Expiry})
	if err != nil {
		return
	}
	f, err := os.CreateTemp(dir, ".token-*")
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return
	}
	if f.Close() != nil {
		return
	}
	os.Rename(f.Name(), o.cachePath)
}

// buildOAuth2 checks the [oauth2] table and makes its token source.
func buildOAuth2(p *profile, name string, a *Account, e *env) (*OAuth2, error) {
	q := p.OAuth2
	o := func(key string) origin { return p.origins["oauth2."+key] }
	key := func(k string) string { return displayKey(name, "oauth2."+k, o(k)) }
	s := &OAuth2{now: time.Now}

	staticKey, err := oneOf(p, name, []string{"oauth2.token_command", "oauth2.token_env", "oauth2.token_file"},
		[]bool{q.TokenCommand != nil, q.TokenEnv != nil, q.TokenFile != nil})
	if err != nil {
		return nil, err
	}
	if staticKey != "" && q.TokenURL != nil {
		return nil, o("token_url").errorf(ErrValue, key("token_url"), "%s and oauth2.token_url are both set; keep one", staticKey)
	}
	switch staticKey {
	case "oauth2.token_command":
		s.static, err = commandSecret(key("token_command"), o("token_command"), *q.TokenCommand, e)
	case "oauth2.token_env":
		s.static, err = envSecret(key("token_env"), o("token_env"), *q.TokenEnv, e)
	case "oauth2.token_file":
		s.static = fileSecret(key("token_file"), o("token_file"), *q.TokenFile, e)
	}
	if err != nil {
		return nil, err
	}
	if s.static != nil {
		s.Source = strings.TrimPrefix(staticKey, "oauth2.")
		return s, nil
	}

	if q.TokenURL == nil {
		return nil, p.origins["oauth2"].errorf(ErrValue, displayKey(name, "oauth2", p.origins["oauth2"]),
			"[oauth2] needs token_command, token_env or token_file, or token_url with client_id and a refresh token")
	}
	u, err := url.Parse(*q.TokenURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, o("token_url").errorf(ErrValue, key("token_url"), "token_url %q must be an https:// URL", *q.TokenURL)
	}
	if q.ClientID == nil || *q.ClientID == "" {
		return nil, o("token_url").errorf(ErrValue, key("token_url"), "the refresh-token flow needs oauth2.client_id")
	}
	s.Source = "token_url"
	s.conf = &oauth2.Config{ClientID: *q.ClientID, Endpoint: oauth2.Endpoint{TokenURL: *q.TokenURL}}
	if q.Scopes != nil {
		s.conf.Scopes = *q.Scopes
	}

	csKey, err := oneOf(p, name, []string{"oauth2.client_secret", "oauth2.client_secret_command", "oauth2.client_secret_env", "oauth2.client_secret_file"},
		[]bool{q.ClientSecret != nil, q.ClientSecretCommand != nil, q.ClientSecretEnv != nil, q.ClientSecretFile != nil})
	if err != nil {
		return nil, err
	}
	k := strings.TrimPrefix(csKey, "oauth2.")
	switch csKey {
	case "oauth2.client_secret":
		s.clientSecret = literalSecret("client_secret", *q.ClientSecret)
	case "oauth2.client_secret_command":
		s.clientSecret, err = commandSecret(key(k), o(k), *q.ClientSecretCommand, e)
	case "oauth2.client_secret_env":
		s.clientSecret, err = envSecret(key(k), o(k), *q.ClientSecretEnv, e)
	case "oauth2.client_secret_file":
		s.clientSecret = fileSecret(key(k), o(k), *q.ClientSecretFile, e)
	}
	if err != nil {
		return nil, err
	}

	rtKey, err := oneOf(p, name, []string{"oauth2.refresh_token", "oauth2.refresh_token_command", "oauth2.refresh_token_env", "oauth2.refresh_token_file", "oauth2.refresh_token_keyring"},
		[]bool{q.RefreshToken != nil, q.RefreshTokenCommand != nil, q.RefreshTokenEnv != nil, q.RefreshTokenFile != nil, q.RefreshTokenKeyring != nil && *q.RefreshTokenKeyring})
	if err != nil {
		return nil, err
	}
	k = strings.TrimPrefix(rtKey, "oauth2.")
	switch rtKey {
	case "oauth2.refresh_token":
		s.refreshToken = literalSecret("refresh_token", *q.RefreshToken)
	case "oauth2.refresh_token_command":
		s.refreshToken, err = commandSecret(key(k), o(k), *q.RefreshTokenCommand, e)
	case "oauth2.refresh_token_env":
		s.refreshToken, err = envSecret(key(k), o(k), *q.RefreshTokenEnv, e)
	case "oauth2.refresh_token_file":
		s.refreshToken = fileSecret(key(k), o(k), *q.RefreshTokenFile, e)
	case "oauth2.refresh_token_keyring":
		user := "oauth2:" + a.Auth.User + "@" + a.Host
		s.refreshToken = &secret{desc: "keyring", fetch: func(context.Context) (string, error) {
			v, err := keyring.Get(KeyringService, user)
			if err != nil {
				se := secretError(o(k), key(k), "no refresh token in the system keyring for %s: %v", user, err)
				se.Err = err
				return "", se
			}
			return v, nil
		}}
	default:
		return nil, o("token_url").errorf(ErrValue, key("token_url"), "the refresh-token flow needs a refresh token: set refresh_token_command, refresh_token_env, refresh_token_file or refresh_token_keyring")
	}
	if err != nil {
		return nil, err
	}
	if boolOr(q.Cache, true) {
		s.cachePath = tokenCachePath(e.getenv, *q.TokenURL, *q.ClientID, a.Auth.User)
	}
	return s, nil
}

// tokenCachePath is $XDG_CACHE_HOME/outbox/oauth2/HASH.json, or under
// ~/.cache; "" when neither is known.
func tokenCachePath(getenv func(string) string, tokenURL, clientID, user string) string {
	base := getenv(EnvXDGCacheHome)
	if base == "" || !filepath.IsAbs(base) {
		home := getenv(EnvHome)
		if home == "" {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	h := sha256.Sum256([]byte(tokenURL + "\x00" + clientID + "\x00" + user))
	return filepath.Join(base, "outbox", "oauth2", hex.EncodeToString(h[:12])+".json")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
