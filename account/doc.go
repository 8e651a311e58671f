// Package account loads outbox's TOML profiles and resolves the settings
// for one submission: which server, which TLS policy, how to authenticate,
// which sender.
//
// Settings come from three layers. The configuration file is the bottom
// one; environment variables ([FromEnv]) beat it and command-line flags beat
// both. [Resolve] finds the file, picks the account (by name, by the
// sender's address, or the default one), applies the layers and returns a
// plain [Account].
//
// Loading has no side effects: nothing is created or written, and no secret
// is fetched. Passwords and OAuth2 tokens are fetched lazily, when the
// functions in [Auth] are called.
//
// Errors are [*Error] values that carry the file, line and column, or the
// flag or environment variable, of the setting at fault, and a hint.
package account
