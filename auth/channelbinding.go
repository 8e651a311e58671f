package auth

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"

	// Registered so that crypto.Hash.New works for tls-server-end-point.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Channel binding types (RFC 5056 §2.1), as named in the SCRAM gs2 header
// (RFC 5802 §6).
const (
	// BindingTLSExporter is tls-exporter (RFC 9266): keying material
	// exported from the TLS 1.3 session.
	BindingTLSExporter = "tls-exporter"
	// BindingTLSUnique is tls-unique (RFC 5929 §3): the first Finished
	// message of a TLS 1.2 handshake.
	BindingTLSUnique = "tls-unique"
	// BindingTLSServerEndPoint is tls-server-end-point (RFC 5929 §4): a
	// hash of the server's certificate.
	BindingTLSServerEndPoint = "tls-server-end-point"
)

// ChannelBinding is the data that ties a SCRAM-*-PLUS exchange to the TLS
// connection it runs over (RFC 5802 §6), so that a man in the middle who
// terminates TLS cannot relay the login.
type ChannelBinding struct {
	Type string // one of BindingTLSExporter, BindingTLSUnique, BindingTLSServerEndPoint
	Data []byte
}

// exporterLabel is the TLS exporter label of RFC 9266 §2.
const exporterLabel = "EXPORTER-Channel-Binding"

// ChannelBindingFromTLS returns the channel binding for a TLS connection.
// With want empty it picks the type the RFCs recommend for the version:
// tls-exporter on TLS 1.3 (RFC 9266 §3, which also says tls-unique must not
// be used there); on TLS 1.2 tls-unique, the SCRAM default (RFC 5802 §6),
// when Go can compute it safely, else tls-server-end-point. A non-empty want
// asks for that type only. The error matches [ErrNoChannelBinding] when the
// connection cannot yield the binding.
func ChannelBindingFromTLS(cs *tls.ConnectionState, want string) (*ChannelBinding, error) {
	if cs == nil || !cs.HandshakeComplete {
		return nil, fmt.Errorf("%w: the connection has no TLS", ErrNoChannelBinding)
	}
	switch want {
	case "", BindingTLSExporter, BindingTLSUnique, BindingTLSServerEndPoint:
	default:
		return nil, fmt.Errorf("%w: unknown channel binding type %q", ErrConfig, want)
	}
	var order []string
	switch {
	case want != "":
		order = []string{want}
	case cs.Version >= tls.VersionTLS13:
		order = []string{BindingTLSExporter, BindingTLSServerEndPoint}
	default:
		order = []string{BindingTLSUnique, BindingTLSServerEndPoint}
	}
	var firstErr error
	for _, typ := range order {
		data, err := bindingData(cs, typ)
		if err == nil {
			return &ChannelBinding{Type: typ, Data: data}, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}

func bindingData(cs *tls.ConnectionState, typ string) ([]byte, error) {
	switch typ {
	case BindingTLSExporter:
		// RFC 9266 §2 defines tls-exporter for TLS 1.3; on TLS 1.2 it is only
		// sound with the extended master secret, which the state does not
		// show, so it is not offered there.
		if cs.Version < tls.VersionTLS13 {
			return nil, fmt.Errorf("%w: tls-exporter needs TLS 1.3 (RFC 9266 §2)", ErrNoChannelBinding)
		}
		data, err := exportKeyingMaterial(cs)
		if err != nil {
			return nil, fmt.Errorf("%w: tls-exporter: %v", ErrNoChannelBinding, err)
		}
		return data, nil
	case BindingTLSUnique:
		// crypto/tls leaves TLSUnique nil on TLS 1.3 and on resumed sessions
		// without the extended master secret (RFC 7627 §5.4: the triple
		// handshake attack).
		if cs.Version >= tls.VersionTLS13 || len(cs.TLSUnique) == 0 {
			return nil, fmt.Errorf("%w: tls-unique is not available on this connection (RFC 9266 §3, RFC 7627)", ErrNoChannelBinding)
		}
		return append([]byte(nil), cs.TLSUnique...), nil
	case BindingTLSServerEndPoint:
		if len(cs.PeerCertificates) == 0 {
			return nil, fmt.Errorf("%w: tls-server-end-point needs the server certificate", ErrNoChannelBinding)
		}
		return serverEndPoint(cs.PeerCertificates[0])
	}
	return nil, fmt.Errorf("%w: unknown channel binding type %q", ErrConfig, typ)
}

// exportKeyingMaterial exports the RFC 9266 §2 binding: 32 octets, label
// "EXPORTER-Channel-Binding", empty context. A ConnectionState not made by
// crypto/tls (as in tests of callers) has no exporter and would panic.
func exportKeyingMaterial(cs *tls.ConnectionState) (data []byte, err error) {
	defer func() {
		if recover() != nil {
			data, err = nil, errors.New("the TLS state cannot export keying material")
		}
	}()
	return cs.ExportKeyingMaterial(exporterLabel, nil, 32)
}

// serverEndPoint hashes the DER certificate as RFC 5929 §4.1 says: with
// the hash of its signature algorithm, except that MD5 and SHA-1 become
// SHA-256. Algorithms with no single hash (Ed25519) have no defined binding.
func serverEndPoint(cert *x509.Certificate) ([]byte, error) {
	var h crypto.Hash
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1,
		x509.SHA256WithRSA, x509.ECDSAWithSHA256, x509.SHA256WithRSAPSS, x509.DSAWithSHA256:
		h = crypto.SHA256
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("%w: tls-server-end-point is undefined for a certificate signed with %v (RFC 5929 §4.1)", ErrNoChannelBinding, cert.SignatureAlgorithm)
	}
	d := h.New()
	d.Write(cert.Raw)
	return d.Sum(nil), nil
}
