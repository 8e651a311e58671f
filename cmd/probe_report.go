package cmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

// describeExtension explains one EHLO extension in a line. Unknown
// extensions are described as such; the report shows them verbatim.
func describeExtension(x smtp.Extension) string {
	switch x.Keyword {
	case smtp.ExtSize:
		ext := smtp.Extensions{List: []smtp.Extension{x}}
		limit, _ := ext.Size()
		if limit == 0 {
			return "declares message sizes; no limit given (RFC 1870)"
		}
		return fmt.Sprintf("messages up to %s (RFC 1870)", humanBytes(limit))
	case smtp.ExtAuth:
		if len(x.Params) == 0 {
			return "login (SASL), but no mechanism listed (RFC 4954)"
		}
		return "login with SASL " + strings.Join(escapeAll(x.Params), ", ") + " (RFC 4954)"
	case smtp.ExtStartTLS:
		return "upgrade to TLS with STARTTLS (RFC 3207)"
	case smtp.ExtPipelining:
		return "commands may be sent in batches (RFC 2920)"
	case smtp.ExtChunking:
		return "message data in BDAT chunks, without dot-stuffing (RFC 3030)"
	case smtp.Ext8BitMIME:
		return "8-bit message bodies (RFC 6152)"
	case smtp.ExtBinaryMIME:
		return "binary message bodies, with BDAT (RFC 3030)"
	case smtp.ExtSMTPUTF8:
		return "UTF-8 in addresses and headers (RFC 6531)"
	case smtp.ExtDSN:
		return "delivery status notifications: NOTIFY, RET, ENVID, ORCPT (RFC 3461)"
	case smtp.ExtEnhancedCode:
		return "replies carry enhanced status codes such as 5.1.1 (RFC 2034, RFC 3463)"
	case smtp.ExtRequireTLS:
		return "relays a message only over verified TLS when the sender asks (RFC 8689)"
	case "ETRN":
		return "a client may ask the server to flush its queue for a domain (RFC 1985)"
	case "DELIVERBY":
		return "delivery deadlines with BY= (RFC 2852)"
	case "MT-PRIORITY":
		return "message priorities with MT-PRIORITY= (RFC 6710)"
	case "FUTURERELEASE":
		return "delayed release with HOLDFOR= or HOLDUNTIL= (RFC 4865)"
	case "LIMITS":
		return "transaction limits: " + strings.Join(escapeAll(x.Params), " ") + " (RFC 9422)"
	case "VRFY":
		return "address verification with VRFY (RFC 5321)"
	case "EXPN":
		return "mailing list expansion with EXPN (RFC 5321)"
	case "HELP":
		return "help with HELP (RFC 5321)"
	case "SMTPUTF8-HEADERS", "UTF8SMTP":
		return "a pre-standard form of SMTPUTF8"
	}
	return "not known to outbox"
}

// humanBytes writes n bytes in binary units: "64 MiB", "9.5 MiB".
func humanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d bytes", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB"}
	v := float64(n) / 1024
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + units[u]
}

// probeReport writes the readable report: sections with a title and rows
// whose labels are aligned within the section.
type probeReport struct {
	w      io.Writer
	colour bool
	rows   []reportRow
	title  string
	// started is set once something was written: sections after the
	// first are separated by a blank line.
	started bool
}

type reportRow struct {
	indent int
	label  string
	value  string
}

const (
	ansiBold  = "\x1b[1m"
	ansiGreen = "\x1b[32m"
	ansiRed   = "\x1b[31m"
)

func newProbeReport(w io.Writer, colour bool) *probeReport {
	return &probeReport{w: w, colour: colour}
}

func (p *probeReport) paint(code, s string) string {
	if !p.colour {
		return s
	}
	return code + s + ansiReset
}

func (p *probeReport) good(s string) string { return p.paint(ansiGreen, s) }
func (p *probeReport) bad(s string) string  { return p.paint(ansiRed, s) }

// section starts a section, printing the previous one.
func (p *probeReport) section(title string) {
	p.flush()
	p.title = title
}

func (p *probeReport) row(label, value string)        { p.rows = append(p.rows, reportRow{1, label, value}) }
func (p *probeReport) sub(label, value string)        { p.rows = append(p.rows, reportRow{2, label, value}) }
func (p *probeReport) rowf(label, f string, a ...any) { p.row(label, fmt.Sprintf(f, a...)) }

func (p *probeReport) flush() {
	if p.title == "" && len(p.rows) == 0 {
		return
	}
	if p.title != "" {
		if p.started {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintln(p.w, p.paint(ansiBold, p.title))
	}
	p.started = true
	width := map[int]int{}
	for _, r := range p.rows {
		width[r.indent] = max(width[r.indent], len(r.label))
	}
	for _, r := range p.rows {
		pad := strings.Repeat("  ", r.indent)
		if r.value == "" {
			fmt.Fprintf(p.w, "%s%s\n", pad, r.label)
			continue
		}
		fmt.Fprintf(p.w, "%s%-*s  %s\n", pad, width[r.indent], r.label, r.value)
	}
	p.title, p.rows = "", nil
}

// result writes the report on one port.
func (p *probeReport) result(r *probeResult) {
	p.started = false
	p.section(fmt.Sprintf("outbox probe %s (TLS %s)", r.Server, r.TLSMode))
	p.flush()
	p.started = false

	p.section("Connection")
	addrs := "none"
	if len(r.Connection.Addresses) > 0 {
		addrs = strings.Join(r.Connection.Addresses, ", ")
	}
	p.row("resolved", addrs)
	for _, a := range r.Connection.Attempts {
		if a.OK {
			p.row("answered", fmt.Sprintf("%s in %s", a.Address, formatMS(a.TookMS)))
		} else {
			p.row("failed", fmt.Sprintf("%s: %s", a.Address, p.bad(a.Error)))
		}
	}

	if g := r.Greeting; g != nil {
		p.section("Greeting")
		for i, l := range g.Lines {
			label := ""
			if i == 0 {
				label = "reply"
			}
			p.row(label, fmt.Sprintf("%d %s", g.Code, l))
		}
		if len(g.Lines) == 0 {
			p.row("reply", strconv.Itoa(g.Code))
		}
		p.row("server name", orNone(g.ServerName))
	}
	if e := r.EHLO.BeforeTLS; e != nil {
		title := "EHLO before TLS"
		if r.TLSMode == "none" {
			title = "EHLO without TLS"
		}
		p.ehlo(title, e)
	}
	if t := r.TLS; t != nil {
		p.tls(t)
	}
	if e := r.EHLO.AfterTLS; e != nil {
		p.ehlo("EHLO after TLS", e)
	}
	if a := r.Auth; a != nil {
		p.section("AUTH")
		if a.BeforeTLS != nil {
			label := "before TLS"
			if r.TLSMode == "none" {
				label = "without TLS"
			}
			p.row(label, mechList(*a.BeforeTLS))
		}
		if a.AfterTLS != nil {
			p.row("after TLS", mechList(*a.AfterTLS))
		}
		if l := a.Login; l != nil {
			if l.OK {
				p.row("login", p.good("accepted with "+l.Mechanism))
			} else {
				p.row("login", p.bad("failed: "+l.Error))
			}
		}
	}
	if rc := r.Rcpt; rc != nil {
		p.section("Recipients (MAIL, RCPT, RSET; no data)")
		p.row("MAIL FROM:<"+rc.From+">", p.verdict(rc.Mail))
		for _, o := range rc.Recipients {
			p.row("RCPT TO:<"+o.Address+">", p.verdict(o))
		}
		if rc.Reset {
			p.row("RSET", "transaction abandoned, nothing sent")
		}
	}
	p.section("Timings")
	var total float64
	for _, st := range r.steps {
		ms := milliseconds(st.Took)
		total += ms
		p.row(st.Name, formatMS(ms))
	}
	p.row("total", formatMS(total))

	p.flush()
	switch {
	case r.OK:
		fmt.Fprintf(p.w, "\n%s %s\n", p.paint(ansiBold, "Result:"), p.good("ok"))
	case r.Error != nil:
		fmt.Fprintf(p.w, "\n%s %s\n", p.paint(ansiBold, "Result:"), p.bad("failed: "+r.Error.Message))
	}
}

func (p *probeReport) verdict(o rcptOutcome) string {
	reply := strings.TrimSpace(fmt.Sprintf("%s %s", codeText(o.Code, o.Enhanced), o.Message))
	if o.Accepted {
		if reply == "" {
			return p.good("accepted")
		}
		return p.good("accepted") + " (" + reply + ")"
	}
	if reply == "" {
		return p.bad("refused")
	}
	return p.bad("refused: " + reply)
}

func codeText(code int, enhanced string) string {
	if code == 0 {
		return ""
	}
	s := strconv.Itoa(code)
	if enhanced != "" {
		s += " " + enhanced
	}
	return s
}

func (p *probeReport) ehlo(title string, e *probeEHLO) {
	p.section(fmt.Sprintf("%s (server calls itself %s)", title, orNone(e.Domain)))
	for _, x := range e.Extensions {
		label := strings.Join(append([]string{x.Keyword}, x.Params...), " ")
		p.row(label, x.Description)
	}
	if len(e.Extensions) == 0 {
		p.row("no extensions", "")
	}
	for _, l := range e.Invalid {
		p.row(l, "not an extension line; ignored")
	}
}

func (p *probeReport) tls(t *probeTLS) {
	p.section("TLS")
	mode := t.Mode
	switch t.Mode {
	case "implicit":
		mode = "implicit (TLS from the first byte)"
	case "starttls":
		mode = "STARTTLS"
	case "none":
		mode = "none (--tls none)"
	}
	p.row("mode", mode)
	offered := t.StartTLSOffered
	switch {
	case offered == nil:
	case *offered && t.Mode == "none":
		p.row("STARTTLS", "offered, not used (--tls none)")
	case *offered:
		p.row("STARTTLS", "offered")
	case t.Mode == "starttls":
		p.row("STARTTLS", p.bad("not offered: no TLS on this port"))
	default:
		p.row("STARTTLS", "not offered")
	}
	if !t.Established {
		// A missing STARTTLS was said above.
		if t.Error != "" && (offered == nil || *offered) {
			p.row("error", p.bad(t.Error))
		}
		return
	}
	p.row("version", t.Version)
	p.row("cipher suite", t.Cipher)
	p.row("ALPN", orNone(t.ALPN))
	if t.Resumed {
		p.row("session", "resumed")
	}
	if t.Verified {
		p.row("verified", p.good("yes, for "+t.ServerName))
	} else {
		p.row("verified", p.bad("NO: "+t.Error))
	}
	for i, c := range t.Chain {
		role := "certificate"
		switch {
		case i == 0:
			role = "leaf certificate"
		case c.IsCA:
			role = "CA certificate"
		}
		p.row(fmt.Sprintf("%d. %s", i+1, role), "")
		p.sub("subject", c.Subject)
		p.sub("issuer", c.Issuer)
		names := append(append(append([]string{}, c.DNSNames...), c.IPAddresses...), c.Emails...)
		p.sub("names", orNone(strings.Join(names, ", ")))
		p.sub("not before", c.NotBefore.Format(time.DateTime+" MST"))
		p.sub("not after", c.NotAfter.Format(time.DateTime+" MST")+" "+p.daysLeft(c.DaysLeft))
		p.sub("sha256", c.SHA256+" (certificate)")
		p.sub("key sha256", c.KeySHA256+" (public key)")
	}
	if len(t.Chain) > 0 && t.Verified {
		p.row("to pin", fmt.Sprintf("tls_pin = %q (the leaf's key)", t.Chain[0].KeySHA256))
	}
}

func (p *probeReport) daysLeft(d int) string {
	switch {
	case d < 0:
		return p.bad(fmt.Sprintf("(expired %d days ago)", -d))
	case d == 0:
		return p.bad("(expires within a day)")
	case d == 1:
		return p.bad("(1 day left)")
	case d < 14:
		return p.bad(fmt.Sprintf("(%d days left)", d))
	}
	return fmt.Sprintf("(%d days left)", d)
}

// survey writes the report of each port, then which work.
func (p *probeReport) survey(s *probeSurvey) {
	for i, r := range s.Ports {
		if i > 0 {
			fmt.Fprintln(p.w)
		}
		p.result(r)
	}
	p.section("Summary for " + s.Host)
	for _, r := range s.Ports {
		label := fmt.Sprintf("%d (%s)", r.Port, r.TLSMode)
		if r.OK {
			p.row(label, p.good("works"))
		} else if r.Error != nil {
			p.row(label, p.bad("fails: "+r.Error.Message))
		}
	}
	p.flush()
}

func mechList(m []string) string {
	if len(m) == 0 {
		return "none offered"
	}
	return strings.Join(m, " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func formatMS(ms float64) string {
	return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
}
