package smtp

// SASLMechanism is a client-side SASL mechanism (RFC 4422) that [Client.Auth]
// drives over the AUTH command (RFC 4954). Package auth implements them.
type SASLMechanism interface {
	// Start returns the mechanism name as sent in AUTH, and the initial
	// response. A nil ir means the mechanism has no initial response; a
	// non-nil empty ir is sent as "=" (RFC 4954 §4).
	Start() (mech string, ir []byte, err error)
	// Next answers a server challenge (already base64-decoded). An error
	// cancels the exchange: the client sends "*" (RFC 4954 §4).
	Next(challenge []byte) (response []byte, err error)
}
