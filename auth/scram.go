package auth

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"

	"github.com/xdg-go/stringprep"
)

// Iteration bounds for SCRAM (RFC 5802 §5.1 "i"). The minimum is the
// count RFC 5802 §5.1 and RFC 7677 §4 ask servers to use at least, so a
// server cannot weaken the salted password. The maximum stops a hostile
// server from making the client hash for minutes: ten million PBKDF2 rounds
// take a few seconds, far above any deployment seen in practice.
const (
	DefaultMinIterations = 4096
	DefaultMaxIterations = 10_000_000
)

// SCRAMHash selects the hash function of a SCRAM mechanism.
type SCRAMHash int

// The SCRAM hash functions outbox implements.
const (
	SHA1   SCRAMHash = iota + 1 // SCRAM-SHA-1 (RFC 5802)
	SHA256                      // SCRAM-SHA-256 (RFC 7677)
)

func (h SCRAMHash) name() string {
	switch h {
	case SHA1:
		return "SCRAM-SHA-1"
	case SHA256:
		return "SCRAM-SHA-256"
	}
	return ""
}

func (h SCRAMHash) newHash() func() hash.Hash {
	if h == SHA1 {
		return sha1.New
	}
	return sha256.New
}

// SCRAMParams configures a [SCRAM] client.
type SCRAMParams struct {
	Hash     SCRAMHash
	User     string
	Authzid  string // optional authorization identity (RFC 5802 §5.1 "a")
	Password SecretSource

	// ChannelBinding, when set, makes this the -PLUS variant bound to that
	// data (gs2 flag "p", RFC 5802 §6).
	ChannelBinding *ChannelBinding
	// AdvertiseBinding says that channel binding was available but the
	// server offered no -PLUS variant, so the gs2 flag is "y": a server that
	// does support channel binding then knows its -PLUS names were stripped
	// on the way and fails the login (RFC 5802 §6). Leave it false when the
	// server offered a -PLUS variant that is not being used; the flag is
	// then "n". Ignored when ChannelBinding is set.
	AdvertiseBinding bool

	// MinIterations and MaxIterations bound the server's iteration count;
	// zero means DefaultMinIterations and DefaultMaxIterations.
	MinIterations, MaxIterations int
}

// SCRAM is a SCRAM-SHA-1 or SCRAM-SHA-256 client, with or without channel
// binding (RFC 5802, RFC 7677, RFC 9266).
//
// It checks that the server's nonce extends its own, bounds the iteration
// count, and verifies the server signature when the server-final message
// arrives as a challenge (RFC 4954 has no success data, so servers send it
// as a 334 challenge that the client answers with an empty line). After a
// 235 reply, [SCRAM.Verify] must return nil, or the login counts as failed.
//
// The client-first message and the final empty answer are not secret; the
// client-final message, whose proof allows an offline guessing attack, is.
type SCRAM struct {
	p       SCRAMParams
	name    string
	newHash func() hash.Hash
	// nonce makes the client nonce; tests replace it to replay the RFC
	// examples.
	nonce func() (string, error)

	state           scramState
	pass            string
	gs2             string
	clientNonce     string
	clientFirstBare string
	serverSignature []byte
	replayed        bool
	err             error // why the exchange stopped, for Verify
	steps
}

type scramState int

const (
	scramNew       scramState = iota
	scramSentFirst            // waiting for server-first
	scramSentFinal            // waiting for server-final
	scramVerified             // server signature verified
	scramFailed
)

// NewSCRAM returns a SCRAM client. It checks the parameters only; the
// password is read in Start.
func NewSCRAM(p SCRAMParams) (*SCRAM, error) {
	name := p.Hash.name()
	if name == "" {
		return nil, fmt.Errorf("%w: unknown SCRAM hash %d", ErrConfig, p.Hash)
	}
	if p.ChannelBinding != nil {
		switch p.ChannelBinding.Type {
		case BindingTLSExporter, BindingTLSUnique, BindingTLSServerEndPoint:
		default:
			return nil, fmt.Errorf("%w: unknown channel binding type %q", ErrConfig, p.ChannelBinding.Type)
		}
		if len(p.ChannelBinding.Data) == 0 {
			return nil, fmt.Errorf("%w: empty %s data", ErrNoChannelBinding, p.ChannelBinding.Type)
		}
		name += "-PLUS"
	}
	if p.MinIterations <= 0 {
		p.MinIterations = DefaultMinIterations
	}
	if p.MaxIterations <= 0 {
		p.MaxIterations = DefaultMaxIterations
	}
	if p.MinIterations > p.MaxIterations {
		return nil, fmt.Errorf("%w: SCRAM minimum iteration count %d above the maximum %d", ErrConfig, p.MinIterations, p.MaxIterations)
	}
	return &SCRAM{p: p, name: name, newHash: p.Hash.newHash(), nonce: randomNonce}, nil
}

// randomNonce returns 24 random octets in base64: 32 printable characters
// with no "," (RFC 5802 §5.1 "r").
func randomNonce() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// saslprepQuery is SASLprep (RFC 4013) applied to a "query string", which
// allows unassigned code points: RFC 5802 §5.1 prepares the user name so.
// The xdg-go/stringprep SASLprep profile handles stored strings only.
var saslprepQuery = stringprep.Profile{
	Mappings:  []stringprep.Mapping{stringprep.TableB1, nonASCIISpaceToSpace()},
	Normalize: true,
	Prohibits: []stringprep.Set{
		stringprep.TableC1_2, stringprep.TableC2_1, stringprep.TableC2_2,
		stringprep.TableC3, stringprep.TableC4, stringprep.TableC5,
		stringprep.TableC6, stringprep.TableC7, stringprep.TableC8,
		stringprep.TableC9,
	},
	CheckBiDi: true,
}

// nonASCIISpaceToSpace is the RFC 4013 §2.1 mapping of the non-ASCII
// spaces (RFC 3454 C.1.2) to SPACE.
func nonASCIISpaceToSpace() stringprep.Mapping {
	m := stringprep.Mapping{}
	for _, r := range stringprep.TableC1_2 {
		for c := r[0]; c <= r[1]; c++ {
			m[c] = []rune{' '}
		}
	}
	return m
}

// Start reads and prepares the password, then returns the client-first
// message (RFC 5802 §5.1, §7):
//
//	gs2-header = gs2-cbind-flag "," [ authzid ] ","
//	client-first-message-bare = "n=" saslname ",r=" c-nonce
func (m *SCRAM) Start() (string, []byte, error) {
	if m.state != scramNew {
		return "", nil, errRestart(m.name)
	}
	m.state = scramFailed
	user, err := saslprepQuery.Prepare(m.p.User)
	if err != nil || user == "" {
		// RFC 5802 §5.1: abort when the user name cannot be prepared or
		// prepares to nothing.
		return "", nil, m.fail(fmt.Errorf("%w: %s: the user name is empty or SASLprep rejects it (RFC 5802 §5.1)", ErrBadCredential, m.name))
	}
	authzid := ""
	if m.p.Authzid != "" {
		if authzid, err = saslprepQuery.Prepare(m.p.Authzid); err != nil || authzid == "" {
			return "", nil, m.fail(fmt.Errorf("%w: %s: SASLprep rejects the authorization identity (RFC 5802 §5.1)", ErrBadCredential, m.name))
		}
	}
	pass, err := readSecret(m.p.Password, "password")
	if err != nil {
		return "", nil, m.fail(err)
	}
	// RFC 5802 §2.2 Normalize: SASLprep with the password as a stored
	// string. The error never quotes the password.
	if m.pass, err = stringprep.SASLprep.Prepare(pass); err != nil || m.pass == "" {
		return "", nil, m.fail(fmt.Errorf("%w: %s: the password is empty or holds characters SASLprep forbids (RFC 5802 §2.2, RFC 4013)", ErrBadCredential, m.name))
	}
	nonce, err := m.nonce()
	if err != nil {
		return "", nil, m.fail(fmt.Errorf("%s: making the nonce: %w", m.name, err))
	}
	if !isPrintable(nonce) {
		return "", nil, m.fail(fmt.Errorf("%s: client nonce is not printable ASCII", m.name))
	}
	m.clientNonce = nonce

	flag := "n"
	switch {
	case m.p.ChannelBinding != nil:
		flag = "p=" + m.p.ChannelBinding.Type
	case m.p.AdvertiseBinding:
		flag = "y"
	}
	m.gs2 = flag + ","
	if authzid != "" {
		m.gs2 += "a=" + encodeSaslname(authzid)
	}
	m.gs2 += ","
	m.clientFirstBare = "n=" + encodeSaslname(user) + ",r=" + nonce
	m.state = scramSentFirst
	m.add(false)
	return m.name, []byte(m.gs2 + m.clientFirstBare), nil
}

// Next answers the server-first message with the client-final message, and
// verifies the server-final message, answering it with an empty response.
func (m *SCRAM) Next(challenge []byte) ([]byte, error) {
	if err := checkChallenge(challenge); err != nil {
		return nil, m.fail(err)
	}
	switch m.state {
	case scramSentFirst:
		if len(challenge) == 0 && !m.replayed {
			// The server got no initial response (RFC 4422 §4 item 3).
			m.replayed = true
			m.replayInitial(false)
			return []byte(m.gs2 + m.clientFirstBare), nil
		}
		resp, err := m.clientFinal(string(challenge))
		if err != nil {
			return nil, m.fail(err)
		}
		m.state = scramSentFinal
		m.add(true)
		return resp, nil
	case scramSentFinal:
		if err := m.verifyServer(string(challenge)); err != nil {
			return nil, m.fail(err)
		}
		m.state = scramVerified
		m.add(false)
		return []byte{}, nil
	case scramVerified:
		return nil, m.fail(fmt.Errorf("%w: %s exchange is complete, but the server sent another challenge: %q", ErrBadChallenge, m.name, excerpt(challenge)))
	case scramFailed:
		return nil, m.err
	}
	return nil, errNotStarted(m.name)
}

func (m *SCRAM) fail(err error) error {
	m.state = scramFailed
	m.pass = ""
	if m.err == nil {
		m.err = err
	}
	return err
}

// clientFinal checks the server-first message and computes the proof
// (RFC 5802 §3):
//
//	SaltedPassword  := Hi(Normalize(password), salt, i)
//	ClientKey       := HMAC(SaltedPassword, "Client Key")
//	StoredKey       := H(ClientKey)
//	AuthMessage     := client-first-message-bare + "," +
//	                   server-first-message + "," +
//	                   client-final-message-without-proof
//	ClientSignature := HMAC(StoredKey, AuthMessage)
//	ClientProof     := ClientKey XOR ClientSignature
//	ServerKey       := HMAC(SaltedPassword, "Server Key")
//	ServerSignature := HMAC(ServerKey, AuthMessage)
func (m *SCRAM) clientFinal(msg string) ([]byte, error) {
	if strings.HasPrefix(msg, "e=") {
		// Not in the RFC 5802 §7 grammar for server-first, but servers
		// report early failures (a refused gs2 header) this way.
		if fin, err := parseServerFinal(msg); err == nil && fin.err != "" {
			return nil, m.serverError(fin.err)
		}
	}
	sf, err := parseServerFirst(msg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	// RFC 5802 §5.1 "r": the server appends its own nonce to ours; one that
	// does not is not answering this exchange.
	if !strings.HasPrefix(sf.nonce, m.clientNonce) || len(sf.nonce) == len(m.clientNonce) {
		return nil, fmt.Errorf("%w: %s: the server nonce does not extend the client nonce (RFC 5802 §5.1)", ErrBadChallenge, m.name)
	}
	if sf.iter < m.p.MinIterations || sf.iter > m.p.MaxIterations {
		return nil, fmt.Errorf("%w: %s: iteration count %d is outside the accepted range %d to %d (RFC 5802 §5.1)", ErrBadChallenge, m.name, sf.iter, m.p.MinIterations, m.p.MaxIterations)
	}
	size := m.newHash().Size()
	salted, err := pbkdf2.Key(m.newHash, m.pass, sf.salt, sf.iter, size)
	m.pass = ""
	if err != nil {
		return nil, fmt.Errorf("%s: deriving the salted password: %w", m.name, err)
	}
	// RFC 5802 §6, §7: c= carries the gs2 header, followed by the channel
	// binding data when the flag is "p".
	cbind := []byte(m.gs2)
	if m.p.ChannelBinding != nil {
		cbind = append(cbind, m.p.ChannelBinding.Data...)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(cbind) + ",r=" + sf.nonce
	authMessage := []byte(m.clientFirstBare + "," + msg + "," + withoutProof)

	clientKey := m.hmac(salted, []byte("Client Key"))
	h := m.newHash()
	h.Write(clientKey)
	storedKey := h.Sum(nil)
	proof := m.hmac(storedKey, authMessage)
	for i := range proof {
		proof[i] ^= clientKey[i]
	}
	m.serverSignature = m.hmac(m.hmac(salted, []byte("Server Key")), authMessage)
	clear(salted)
	clear(clientKey)
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), nil
}

func (m *SCRAM) hmac(key, msg []byte) []byte {
	mac := hmac.New(m.newHash, key)
	mac.Write(msg)
	return mac.Sum(nil)
}

// verifyServer checks the server-final message (RFC 5802 §5.1 "v", §9:
// the client verifies the server so that a fake server that merely lets the
// client in is detected).
func (m *SCRAM) verifyServer(msg string) error {
	sf, err := parseServerFinal(msg)
	if err != nil {
		return fmt.Errorf("%s: %w", m.name, err)
	}
	if sf.err != "" {
		return m.serverError(sf.err)
	}
	if !hmac.Equal(sf.verifier, m.serverSignature) {
		return fmt.Errorf("%w: %s: the server signature is wrong", ErrServerNotVerified, m.name)
	}
	return nil
}

// serverError reports a server-error-value (RFC 5802 §7).
func (m *SCRAM) serverError(value string) error {
	err := fmt.Errorf("%w: %s: the server reports %q (RFC 5802 §7)", ErrAuthFailed, m.name, escape(value))
	if value == "server-does-support-channel-binding" {
		// RFC 5802 §6: the client sent "y" because it saw no -PLUS
		// mechanism, yet the server offers one: the list was altered on the
		// way.
		err = fmt.Errorf("%w; the server supports channel binding, but the mechanism list this client received had no -PLUS variant: someone may have altered it (RFC 5802 §6)", err)
	}
	return err
}

// Verify returns nil once the server signature has been verified, and
// otherwise the reason the exchange stopped, or [ErrServerNotVerified] if
// the server never sent its signature. Call it after a 235 reply: a server
// that accepts the login without proving it knows the password may be an
// impostor (RFC 5802 §9).
func (m *SCRAM) Verify() error {
	switch {
	case m.state == scramVerified:
		return nil
	case m.err != nil:
		return m.err
	}
	return fmt.Errorf("%w: %s: no server signature was received (RFC 5802 §5.1 \"v\")", ErrServerNotVerified, m.name)
}
