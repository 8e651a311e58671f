package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	from = "a@example.org"
	rcpt = "b@example.org"
)

// show is a command as the report prints it, with the scratch directory,
// binaries and addresses replaced by names.
func (h *harness) show(s spec) string {
	parts := []string{}
	for _, e := range s.env {
		parts = append(parts, e)
	}
	for _, a := range s.argv {
		if strings.ContainsAny(a, " ;") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	line := strings.Join(parts, " ")
	if s.stdin != "" {
		line += " < " + s.stdin
	}
	keys := make([]string, 0, len(h.names))
	for k := range h.names {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	for _, k := range keys {
		line = strings.ReplaceAll(line, k, h.names[k])
	}
	return line
}

func (h *harness) addCommands(title string, specs ...spec) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:\n\n```sh\n", title)
	for _, s := range specs {
		b.WriteString(h.show(s) + "\n")
	}
	b.WriteString("```\n")
	h.commands = append(h.commands, b.String())
}

func (h *harness) outboxSend(server string, extra ...string) []string {
	a := []string{h.outbox, "send", "-S", server}
	a = append(a, extra...)
	return append(a, "-f", from, rcpt)
}

var plainFlags = []string{"--tls", "none", "--auth", "none"}

func (h *harness) tlsFlags(mode, server string) []string {
	return []string{"--tls", mode, "--tls-ca", h.ca[server], "-u", "bench", "--auth", "PLAIN"}
}

func (h *harness) msmtp(account string) []string {
	return []string{"msmtp", "-C", h.msmtprc, "-a", account, "-f", from, rcpt}
}

// wallTable compares every client with the first (outbox), round by round.
func wallTable(specs []spec, samples [][]sample) string {
	var b strings.Builder
	b.WriteString("| client | wall time, median (min–max) | outbox ÷ client, per round: median (min–max) |\n|---|---|---|\n")
	ow := walls(samples[0])
	for i, s := range specs {
		r := "—"
		if i > 0 {
			r = fmtRatio(summarize(ratios(ow, walls(samples[i]))))
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", s.name, fmtMS(summarize(walls(samples[i]))), r)
	}
	return b.String()
}

func (h *harness) plain1k() error {
	addr := h.addrs["smtp-sink"]
	msg := h.path(msgFile("1 KiB"))
	specs := []spec{
		{name: "outbox", argv: h.outboxSend(addr, plainFlags...), stdin: msg},
		{name: "msmtp", argv: h.msmtp("smtp-sink"), stdin: msg},
		{name: "smtp-source", argv: []string{"smtp-source", "-m", "1", "-l", "1024", "-f", from, "-t", rcpt, "-M", "localhost", addr}},
	}
	samples, err := h.interleave(specs, h.rounds, 2)
	if err != nil {
		return err
	}
	ow := walls(samples[0])
	rm := summarize(ratios(ow, walls(samples[1])))
	rs := summarize(ratios(ow, walls(samples[2])))
	om := summarize(ow)
	h.targets = append(h.targets,
		target{what: "one 1 KiB message, plain: vs msmtp", goal: "≤ 0.25 × msmtp", outbox: fmtMS(om), anchor: "msmtp " + fmtMS(summarize(walls(samples[1]))), ratio: fmtRatio(rm), met: rm.med <= 0.25, measured: true},
		target{what: "one 1 KiB message, plain: vs smtp-source", goal: "≤ 1.5 × smtp-source", outbox: fmtMS(om), anchor: "smtp-source " + fmtMS(summarize(walls(samples[2]))), ratio: fmtRatio(rs), met: rs.med <= 1.5, measured: true},
	)
	h.sections = append(h.sections, fmt.Sprintf("### One 1 KiB message, plain, into smtp-sink\n\nWhole-process wall time, %d interleaved rounds (outbox, msmtp, smtp-source, …) after 2 warm-up rounds. smtp-source sends a 1024-octet body of its own making.\n\n%s", h.rounds, wallTable(specs, samples)))
	h.addCommands("One 1 KiB message, plain", specs...)
	return nil
}

func (h *harness) tls1k() error {
	addr := h.addrs["discard-tls"]
	msg := h.path(msgFile("1 KiB"))
	specs := []spec{
		{name: "outbox", argv: h.outboxSend(addr, h.tlsFlags("starttls", "discard-tls")...), stdin: msg, env: []string{"OUTBOX_PASSWORD=secret"}},
		{name: "msmtp", argv: h.msmtp("discard-tls"), stdin: msg},
	}
	samples, err := h.interleave(specs, h.rounds, 2)
	if err != nil {
		return err
	}
	rm := summarize(ratios(walls(samples[0]), walls(samples[1])))
	h.targets = append(h.targets, target{what: "one 1 KiB message, STARTTLS (TLS 1.3) + AUTH PLAIN", goal: "≤ 0.2 × msmtp", outbox: fmtMS(summarize(walls(samples[0]))), anchor: "msmtp " + fmtMS(summarize(walls(samples[1]))), ratio: fmtRatio(rm), met: rm.med <= 0.2, measured: true})
	h.sections = append(h.sections, fmt.Sprintf("### One 1 KiB message, STARTTLS + AUTH PLAIN, into the discard server\n\nThe sink is `benchtool discard -tls starttls -auth` (Go crypto/tls, TLS 1.3, ECDSA P-256 certificate; PIPELINING, CHUNKING, AUTH PLAIN LOGIN after TLS). msmtp reads the password from its configuration file (no password command). %d interleaved rounds after 2 warm-up rounds.\n\n%s", h.rounds, wallTable(specs, samples)))
	h.addCommands("One 1 KiB message, STARTTLS + AUTH", specs...)
	return nil
}

func (h *harness) throughput() error {
	size := "1 GiB"
	rounds := 3
	if h.quick {
		size, rounds = "100 MiB", 1
	}
	n := sizeOf(size)
	addr := h.addrs["discard"]
	msg := h.path(msgFile(size))
	specs := []spec{
		{name: "outbox (BDAT)", argv: h.outboxSend(addr, plainFlags...), stdin: msg, timeV: true},
		{name: "outbox --no-chunking (DATA)", argv: h.outboxSend(addr, append(slices.Clone(plainFlags), "--no-chunking")...), stdin: msg, timeV: true},
		{name: "msmtp (DATA)", argv: h.msmtp("discard"), stdin: msg, timeV: true},
		{name: "raw loopback copy (read/write, one BDAT LAST)", argv: []string{h.tool, "raw", "-addr", addr, "-file", msg}, timeV: true},
		{name: "raw loopback copy with sendfile (for reference)", argv: []string{h.tool, "raw", "-sendfile", "-addr", addr, "-file", msg}, timeV: true},
	}
	samples, err := h.interleave(specs, rounds, 0)
	if err != nil {
		return err
	}
	mbps := func(ss []sample) []float64 {
		out := make([]float64, len(ss))
		for i, s := range ss {
			out[i] = float64(n) / 1e6 / s.wall.Seconds()
		}
		return out
	}
	var b strings.Builder
	b.WriteString("| client | throughput, MB/s: median (min–max) | wall time, median | CPU time (user + system), median | outbox ÷ client throughput, per round | peak RSS |\n|---|---|---|---|---|---|\n")
	o := mbps(samples[0])
	for i, s := range specs {
		t := summarize(mbps(samples[i]))
		r := "—"
		if i > 0 {
			r = fmtRatio(summarize(ratios(o, mbps(samples[i]))))
		}
		fmt.Fprintf(&b, "| %s | %.0f (%.0f–%.0f) | %.2f s | %.2f s | %s | %s |\n", s.name, t.med, t.lo, t.hi, summarize(walls(samples[i])).med, summarize(cpus(samples[i])).med, r, fmtMiB(summarize(rsss(samples[i])).hi))
	}
	vsM := summarize(ratios(o, mbps(samples[2])))
	vsRaw := summarize(ratios(o, mbps(samples[3])))
	ot := summarize(o)
	h.targets = append(h.targets,
		target{what: size + " message, throughput: vs msmtp", goal: "≥ 15 × msmtp", outbox: fmt.Sprintf("%.0f MB/s", ot.med), anchor: fmt.Sprintf("msmtp %.0f MB/s", summarize(mbps(samples[2])).med), ratio: fmtRatio(vsM), met: vsM.med >= 15, measured: !h.quick},
		target{what: size + " message, throughput: vs raw loopback copy (read/write)", goal: "≥ 0.5 × raw copy", outbox: fmt.Sprintf("%.0f MB/s", ot.med), anchor: fmt.Sprintf("raw %.0f MB/s", summarize(mbps(samples[3])).med), ratio: fmtRatio(vsRaw), met: vsRaw.med >= 0.5, measured: !h.quick},
	)
	h.sections = append(h.sections, fmt.Sprintf("### %s message, throughput, into the discard server\n\nThe message is %d octets of 76-character lines with LF line ends (the clients send CRLF, so about 1.3%% more octets travel). MB/s = 10⁶ octets of the message file per second of whole-process wall time. The sink is `benchtool discard` (plain, PIPELINING and CHUNKING offered; a 256 KiB read buffer; DATA is scanned line by line for the final dot, BDAT is counted and dropped). The raw copy sends the same file verbatim inside one `BDAT %d LAST`, through a 256 KiB buffer with read(2) and write(2): the ceiling of loopback plus this sink for a client that reads the message, and the target's reference. The sendfile(2) copy never brings the data into the process; it is shown for reference. %d interleaved rounds, each command under `/usr/bin/time -f \"%%M %%U %%S\"` for its peak RSS (the largest of the rounds) and CPU time.\n\n%s", size, n, n, rounds, b.String()))
	h.addCommands(size+" message, throughput", specs...)
	return nil
}

func sizeOf(name string) int64 {
	for _, s := range sizes {
		if s.name == name {
			return s.n
		}
	}
	return 0
}

var maxRSSRe = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

// timeV runs s under /usr/bin/time -v and returns the peak RSS it reports.
func (h *harness) timeV(s spec) (int64, error) {
	out := h.path("time-v.out")
	w := s
	w.argv = append([]string{"/usr/bin/time", "-v", "-o", out}, s.argv...)
	if _, err := h.runOnce(w); err != nil {
		return 0, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return 0, err
	}
	m := maxRSSRe.FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("no maximum resident set size in /usr/bin/time -v output")
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

func (h *harness) memory() error {
	addr := h.addrs["discard"]
	type row struct {
		client string
		rss    map[string]int64
	}
	clients := []string{"outbox", "outbox --no-chunking", "msmtp", "swaks"}
	rows := map[string]map[string]int64{}
	var shown []spec
	for _, sz := range sizes {
		if h.quick && sz.n > 100<<20 {
			continue
		}
		msg := h.path(msgFile(sz.name))
		runs := 3
		if sz.n > 100<<20 {
			runs = 1
		}
		specs := []spec{
			{name: "outbox", argv: h.outboxSend(addr, plainFlags...), stdin: msg},
			{name: "outbox --no-chunking", argv: h.outboxSend(addr, append(slices.Clone(plainFlags), "--no-chunking")...), stdin: msg},
			{name: "msmtp", argv: h.msmtp("discard"), stdin: msg},
		}
		// swaks holds the message several times over: it is measured up
		// to 100 MiB.
		if sz.n <= 100<<20 {
			host, port, _ := strings.Cut(addr, ":")
			h.names["--port "+port+" "] = "--port $DISCARD_PORT "
			specs = append(specs, spec{name: "swaks", argv: []string{"swaks", "--server", host, "--port", port, "--from", from, "--to", rcpt, "--data", msg, "--suppress-data", "--silent", "2"}})
		}
		for r := 0; r < runs; r++ {
			for _, s := range specs {
				k, err := h.timeV(s)
				if err != nil {
					return err
				}
				if rows[s.name] == nil {
					rows[s.name] = map[string]int64{}
				}
				rows[s.name][sz.name] = max(rows[s.name][sz.name], k)
			}
		}
		if sz.n == 1<<10 || sz.n == 1<<30 {
			for _, s := range specs {
				s.argv = append([]string{"/usr/bin/time", "-v"}, s.argv...)
				shown = append(shown, s)
			}
		}
	}
	var b strings.Builder
	b.WriteString("| client |")
	for _, sz := range sizes {
		b.WriteString(" " + sz.name + " |")
	}
	b.WriteString("\n|---|---|---|---|---|\n")
	for _, c := range clients {
		fmt.Fprintf(&b, "| %s |", c)
		for _, sz := range sizes {
			if k, ok := rows[c][sz.name]; ok {
				fmt.Fprintf(&b, " %s |", fmtMiB(float64(k)))
			} else {
				b.WriteString(" — |")
			}
		}
		b.WriteString("\n")
	}
	o := rows["outbox"]
	ok1k := o["1 KiB"] > 0 && o["1 KiB"] <= 12<<10
	// Flat: no size above 12 MiB, nor more than 1 MiB above the 1 KiB
	// figure.
	flat := true
	var worst int64
	var desc []string
	for _, sz := range sizes[1:] {
		k, ok := o[sz.name]
		if !ok {
			continue
		}
		desc = append(desc, sz.name+" "+fmtMiB(float64(k)))
		worst = max(worst, k)
		if k > 12<<10 || k-o["1 KiB"] > 1<<10 {
			flat = false
		}
	}
	h.targets = append(h.targets,
		target{what: "peak RSS, 1 KiB message", goal: "≤ 12 MiB", outbox: fmtMiB(float64(o["1 KiB"])), anchor: "msmtp " + fmtMiB(float64(rows["msmtp"]["1 KiB"])) + ", swaks " + fmtMiB(float64(rows["swaks"]["1 KiB"])), ratio: "—", met: ok1k, measured: true},
		target{what: "peak RSS, 1 MiB / 100 MiB / 1 GiB", goal: "the same (flat): ≤ 12 MiB and within 1 MiB of the 1 KiB figure", outbox: strings.Join(desc, ", "), anchor: "swaks 100 MiB " + fmtMiB(float64(rows["swaks"]["100 MiB"])), ratio: fmt.Sprintf("%+.2f MiB over 1 KiB", float64(worst-o["1 KiB"])/1024), met: flat, measured: !h.quick},
	)
	h.sections = append(h.sections, fmt.Sprintf("### Peak RSS by message size\n\nMaximum resident set size from `/usr/bin/time -v`, the largest of 3 runs (1 run for 1 GiB), plain into the discard server, which offers CHUNKING: outbox sends BDAT unless told `--no-chunking`. swaks is measured up to 100 MiB.\n\n%s", b.String()))
	h.addCommands("Peak RSS (the 1 KiB and 1 GiB runs; the other sizes alike)", shown...)
	return nil
}

// rttMode is one configuration of the round-trip count.
type rttMode struct {
	name    string
	label   string
	discard []string
	tls     string // outbox --tls
	min     int    // the RFC minimum
}

var rttModes = []rttMode{
	{"rt-plain", "plain, no CHUNKING", []string{"-tls", "none", "-chunking=false"}, "none", 5},
	{"rt-plain-chunking", "plain, CHUNKING", []string{"-tls", "none"}, "none", 4},
	{"rt-starttls", "STARTTLS + TLS 1.3 + AUTH, no CHUNKING", []string{"-tls", "starttls", "-auth", "-chunking=false"}, "starttls", 9},
	{"rt-starttls-chunking", "STARTTLS + TLS 1.3 + AUTH, CHUNKING", []string{"-tls", "starttls", "-auth"}, "starttls", 8},
	{"rt-implicit", "implicit TLS 1.3 + AUTH, no CHUNKING", []string{"-tls", "implicit", "-auth", "-chunking=false"}, "implicit", 7},
	{"rt-implicit-chunking", "implicit TLS 1.3 + AUTH, CHUNKING", []string{"-tls", "implicit", "-auth"}, "implicit", 6},
}

type proxyLine struct {
	RoundTrips int     `json:"round_trips"`
	Flights    int     `json:"flights"`
	MS         float64 `json:"ms"`
	Err        string  `json:"error"`
}

// proxyRun runs s through the proxy name and returns the proxy's record of
// the connection.
func (h *harness) proxyRun(name string, s spec) (proxyLine, time.Duration, error) {
	log := h.path(name + ".log")
	before := countLines(log)
	sm, err := h.runOnce(s)
	if err != nil {
		return proxyLine{}, 0, err
	}
	deadline := time.Now().Add(10 * time.Second)
	for countLines(log) <= before {
		if time.Now().After(deadline) {
			return proxyLine{}, 0, fmt.Errorf("%s: the proxy logged no connection", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	var pl proxyLine
	if err := jsonUnmarshal(lines[before], &pl); err != nil {
		return pl, 0, err
	}
	if pl.Err != "" {
		return pl, 0, fmt.Errorf("%s: proxy: %s", name, pl.Err)
	}
	return pl, sm.wall, nil
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

func (h *harness) roundTrips() error {
	msg := h.path(msgFile("1 KiB"))
	runs := 3
	if h.quick {
		runs = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| mode | RFC minimum | outbox | msmtp | outbox wall time | msmtp wall time |\n|---|---|---|---|---|---|\n")
	allMet := true
	var got []string
	var shown []spec
	for _, m := range rttModes {
		addr := h.addrs[m.name]
		flags := plainFlags
		var env []string
		if m.tls != "none" {
			flags = h.tlsFlags(m.tls, m.name)
			env = []string{"OUTBOX_PASSWORD=secret"}
		}
		specs := []spec{
			{name: "outbox", argv: h.outboxSend(addr, flags...), stdin: msg, env: env},
			{name: "msmtp", argv: h.msmtp(m.name), stdin: msg},
		}
		rt := make([][]float64, 2)
		wall := make([][]float64, 2)
		for r := 0; r < runs; r++ {
			for i, s := range specs {
				pl, w, err := h.proxyRun(m.name, s)
				if err != nil {
					return err
				}
				rt[i] = append(rt[i], float64(pl.RoundTrips))
				wall[i] = append(wall[i], w.Seconds())
			}
		}
		o, ms := summarize(rt[0]), summarize(rt[1])
		rng := func(s summary) string {
			if s.lo == s.hi {
				return fmt.Sprintf("%.0f", s.med)
			}
			return fmt.Sprintf("%.0f (%.0f–%.0f)", s.med, s.lo, s.hi)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %.0f ms | %.0f ms |\n", m.label, m.min, rng(o), rng(ms), summarize(wall[0]).med*1000, summarize(wall[1]).med*1000)
		if o.hi > float64(m.min) {
			allMet = false
		}
		got = append(got, fmt.Sprintf("%.0f", o.hi))
		if m.name == "rt-starttls-chunking" || m.name == "rt-plain" {
			shown = append(shown, specs...)
		}
	}
	h.targets = append(h.targets, target{what: fmt.Sprintf("round trips per message (%v RTT, TCP handshake counted)", h.rtt), goal: "plain 5 / 4 with CHUNKING; STARTTLS+AUTH 9 / 8; implicit TLS+AUTH 7 / 6", outbox: strings.Join(got, " / "), anchor: "see the table below", ratio: "—", met: allMet, measured: true})
	h.sections = append(h.sections, fmt.Sprintf("### Round trips per message through a %v RTT\n\n`benchtool proxy` sits between the client and a `benchtool discard` server configured per row; it delays each direction by RTT/2 and the connection by one RTT (the TCP handshake). A round trip is a time the client waited for the server: 1 for the TCP handshake plus the runs of server data delivered with no client data in between (a run that arrives after the client closed is not counted). The largest of %d runs; wall time is the median whole-process time. A 1 KiB message; outbox asks for AUTH PLAIN, msmtp is configured for it.\n\n%s", h.rtt, runs, b.String()))
	h.addCommands("Round trips (two of the six modes; the proxy runs as `benchtool proxy -upstream $SERVER -rtt "+h.rtt.String()+"`)", shown...)
	return nil
}

func (h *harness) batch() error {
	n, rounds := 5000, 7
	if h.quick {
		n, rounds = 500, 2
	}
	msg := h.path(msgFile("1 KiB"))
	var b strings.Builder
	b.WriteString("| sink | client | messages/s, median (min–max) | wall time, median | outbox ÷ smtp-source messages/s, per round |\n|---|---|---|---|---|\n")
	var all []spec
	for _, sink := range []string{"smtp-sink", "discard"} {
		addr := h.addrs[sink]
		specs := []spec{
			{name: "outbox (smtp package: Dial, Send × N)", argv: []string{h.tool, "batch", "-addr", addr, "-file", msg, "-n", strconv.Itoa(n)}},
			{name: "smtp-source -d (one connection)", argv: []string{"smtp-source", "-d", "-s", "1", "-m", strconv.Itoa(n), "-l", "1024", "-f", from, "-t", rcpt, "-M", "localhost", addr}},
		}
		samples, err := h.interleave(specs, rounds, 1)
		if err != nil {
			return err
		}
		rate := func(ss []sample) []float64 {
			out := make([]float64, len(ss))
			for i, s := range ss {
				out[i] = float64(n) / s.wall.Seconds()
			}
			return out
		}
		r := summarize(ratios(rate(samples[0]), rate(samples[1])))
		for i, s := range specs {
			t := summarize(rate(samples[i]))
			rs := "—"
			if i == 0 {
				rs = fmtRatio(r)
			}
			fmt.Fprintf(&b, "| %s | %s | %.0f (%.0f–%.0f) | %.3f s | %s |\n", sink, s.name, t.med, t.lo, t.hi, summarize(walls(samples[i])).med, rs)
		}
		if sink == "smtp-sink" {
			h.targets = append(h.targets, target{what: "many 1 KiB messages over one connection: the smtp package (`benchtool batch`, into smtp-sink)", goal: "≥ smtp-source's messages/s", outbox: fmt.Sprintf("%.0f/s", summarize(rate(samples[0])).med), anchor: fmt.Sprintf("smtp-source %.0f/s", summarize(rate(samples[1])).med), ratio: fmtRatio(r), met: r.med >= 1, measured: true})
		}
		all = append(all, specs...)
	}
	h.sections = append(h.sections, fmt.Sprintf("### Many messages over one connection: the smtp package\n\nThis is `benchtool batch`, a Go program that calls the smtp package directly (`smtp.Dial`, then `Client.Send` %d times with the same 1 KiB message, then `Quit`): the protocol side of a batch, without outbox's queue (see the next section for `outbox queue flush`). smtp-source sends %d messages with a 1024-octet body over one connection (`-d -s 1`). Rates are messages per second of whole-process wall time, connection and start-up included. %d interleaved rounds after 1 warm-up round, into smtp-sink (the target) and into the discard server.\n\n%s", n, n, rounds, b.String()))
	h.addCommands("Many messages over one connection", all...)
	return nil
}

func (h *harness) startup() error {
	rounds := 51
	if h.quick {
		rounds = 5
	}
	specs := []spec{
		{name: "outbox version", argv: []string{h.outbox, "version"}},
		{name: "Go hello world", argv: []string{h.hello}},
	}
	samples, err := h.interleave(specs, rounds, 3)
	if err != nil {
		return err
	}
	r := summarize(ratios(walls(samples[0]), walls(samples[1])))
	var rss []string
	for _, s := range specs {
		k, err := h.timeV(s)
		if err != nil {
			return err
		}
		rss = append(rss, s.name+" "+fmtMiB(float64(k)))
	}
	h.targets = append(h.targets, target{what: "`outbox version` start-up", goal: "≤ 1.5 × Go hello world", outbox: fmtMS(summarize(walls(samples[0]))), anchor: "hello " + fmtMS(summarize(walls(samples[1]))), ratio: fmtRatio(r), met: r.med <= 1.5, measured: true})
	h.sections = append(h.sections, fmt.Sprintf("### Start-up\n\n%d interleaved rounds after 3 warm-up rounds. The hello world is `bench/hello`, built with the same toolchain and flags as outbox. Peak RSS (`/usr/bin/time -v`): %s.\n\n%s", rounds, strings.Join(rss, ", "), wallTable(specs, samples)))
	h.addCommands("Start-up", specs...)
	return nil
}

// queueFlush measures outbox's own many-messages entry point: n messages
// queued with `outbox send --queue always` (not timed), then one
// `outbox queue flush --all` (timed), against smtp-source sending n
// messages over one connection; both into smtp-sink. The same again with
// the queue on tmpfs, where fsync costs nothing, shows what the queue's
// durability costs.
func (h *harness) queueFlush() error {
	n, rounds := 500, 3
	if h.quick {
		n, rounds = 50, 1
	}
	addr := h.addrs["smtp-sink"]
	msg := h.path(msgFile("1 KiB"))
	env := []string{"OUTBOX_SERVER=" + addr, "OUTBOX_TLS=none", "OUTBOX_AUTH=none"}
	type place struct{ name, dir string }
	places := []place{{"scratch directory (" + fsType(h.dir) + ")", h.path("queue")}}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "outbox-bench-queue.")
		if err == nil {
			defer os.RemoveAll(d)
			places = append(places, place{"tmpfs (fsync costs nothing)", d})
		}
	}
	fill := func(dir string) error {
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			s := spec{name: "queue fill", argv: []string{h.outbox, "send", "--queue", "always", "--queue-dir", dir, "-f", from, rcpt}, stdin: msg, env: env}
			if _, err := h.runOnce(s); err != nil {
				return err
			}
		}
		return nil
	}
	flushSpec := func(dir string) spec {
		return spec{name: "outbox queue flush", argv: []string{h.outbox, "queue", "flush", "--queue-dir", dir, "--all"}, env: env}
	}
	source := spec{name: "smtp-source -d (one connection)", argv: []string{"smtp-source", "-d", "-s", "1", "-m", strconv.Itoa(n), "-l", "1024", "-f", from, "-t", rcpt, "-M", "localhost", addr}}
	flush := make([][]float64, len(places))
	var src []float64
	for r := 0; r < rounds; r++ {
		for i, p := range places {
			if err := fill(p.dir); err != nil {
				return err
			}
			sm, err := h.runOnce(flushSpec(p.dir))
			if err != nil {
				return err
			}
			if left, _ := os.ReadDir(filepath.Join(p.dir, "entries")); len(left) > 0 {
				return fmt.Errorf("queue flush left %d messages in the queue", len(left))
			}
			flush[i] = append(flush[i], float64(n)/sm.wall.Seconds())
		}
		sm, err := h.runOnce(source)
		if err != nil {
			return err
		}
		src = append(src, float64(n)/sm.wall.Seconds())
	}
	var b strings.Builder
	b.WriteString("| client | queue on | messages/s, median (min–max) | outbox ÷ smtp-source, per round |\n|---|---|---|---|\n")
	for i, p := range places {
		t := summarize(flush[i])
		fmt.Fprintf(&b, "| outbox queue flush --all | %s | %.0f (%.0f–%.0f) | %s |\n", p.name, t.med, t.lo, t.hi, fmtRatio(summarize(ratios(flush[i], src))))
	}
	ts := summarize(src)
	fmt.Fprintf(&b, "| smtp-source -d -s 1 | — | %.0f (%.0f–%.0f) | — |\n", ts.med, ts.lo, ts.hi)
	r := summarize(ratios(flush[0], src))
	h.targets = append(h.targets, target{what: "many 1 KiB messages over one connection: `outbox queue flush` (into smtp-sink)", goal: "≥ smtp-source's messages/s", outbox: fmt.Sprintf("%.0f/s", summarize(flush[0]).med), anchor: fmt.Sprintf("smtp-source %.0f/s", ts.med), ratio: fmtRatio(r), met: r.med >= 1, measured: true})
	h.sections = append(h.sections, fmt.Sprintf("### Many messages over one connection: `outbox queue flush`\n\n%d messages of 1 KiB are queued with `outbox send --queue always` (not timed), then one `outbox queue flush --all` sends them over one connection (timed, whole process); smtp-source sends %d messages over one connection; both into smtp-sink, %d rounds. The queue keeps every message durable (fsync) across the flush; the tmpfs row shows the same flush where fsync costs nothing.\n\n%s", n, n, rounds, b.String()))
	fl := flushSpec("$W/queue")
	fl.env = []string{"OUTBOX_SERVER=$SMTP_SINK", "OUTBOX_TLS=none", "OUTBOX_AUTH=none"}
	h.addCommands("Queue flush (the queue filled first with `outbox send --queue always --queue-dir $W/queue -f a@example.org b@example.org < $W/msg-1KiB.eml`, "+strconv.Itoa(n)+" times)", fl, source)
	return nil
}

// fsType names the file system of dir, as df says.
func fsType(dir string) string {
	out, err := exec.Command("df", "--output=fstype", dir).Output()
	if err != nil {
		return "unknown file system"
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		return "unknown file system"
	}
	return f[len(f)-1]
}
