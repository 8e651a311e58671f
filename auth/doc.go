// Package auth holds the client side of the SASL mechanisms (RFC 4422) that
// outbox uses to log in to a submission server, and the choice among them.
//
// Each mechanism is a [Mechanism]: Start gives the name and initial
// response for the AUTH command (RFC 4954), Next answers each server
// challenge, and IsSecret says which client messages the transcript may
// show. The smtp package drives any Mechanism without importing this
// package.
//
// The mechanisms are [Plain] (RFC 4616), [Login] (de facto), [CRAMMD5]
// (RFC 2195), [SCRAM] for SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants
// with channel binding (RFC 5802, RFC 7677, RFC 9266), [XOAuth2] (de facto),
// [OAuthBearer] (RFC 7628) and [External] (RFC 4422 Appendix A).
//
// [Choose] picks one from the server's post-TLS list, the TLS state, and a
// [Config] that says what the account allows and which secrets it has.
// Secrets are read through [SecretSource] functions, called only when the
// chosen mechanism starts, so a password prompt appears only when needed.
//
// After the server's final reply the caller checks the mechanism's
// [Verifier], if it has one: a SCRAM exchange that ends in 235 without a
// proven server signature is an authentication failure, and an OAuth
// exchange that ended with the server's error document reports it there.
//
// Errors are typed so that callers decide without reading text: a
// [*ChooseError] (matching [ErrNoMechanism] and one reason such as
// [ErrInsecure]) when nothing usable is offered, [ErrConfig] for an account
// that cannot work, [ErrBadChallenge] for a malformed or hostile challenge,
// [ErrAuthFailed] when the mechanism itself saw the login fail, and
// [ErrBadCredential] for credentials a mechanism cannot carry.
package auth
