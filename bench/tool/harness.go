package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// harness runs every measurement and collects the report.
type harness struct {
	outbox, tool, hello string // binaries
	dir                 string // scratch directory
	quick               bool
	build               string
	only                map[string]bool
	rounds              int // rounds of the millisecond measurements
	rtt                 time.Duration

	procs []*exec.Cmd
	names map[string]string // address or path -> symbolic name in the report
	addrs map[string]string // server name -> address

	targets  []target
	sections []string
	commands []string
	msmtprc  string
	ca       map[string]string // discard server name -> CA file
}

type target struct {
	what, goal, outbox, anchor, ratio string
	met                               bool
	measured                          bool
}

func runHarness(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	h := &harness{names: map[string]string{}, ca: map[string]string{}, addrs: map[string]string{}}
	fs.StringVar(&h.outbox, "outbox", "", "the outbox `BINARY` to measure")
	fs.StringVar(&h.hello, "hello", "", "the Go hello-world `BINARY` (start-up baseline)")
	fs.StringVar(&h.dir, "dir", "", "scratch `DIR` (messages of up to 1 GiB are written there)")
	out := fs.String("out", "BENCHMARKS.md", "write the report to `FILE`")
	notes := fs.String("notes", "", "append the Markdown `FILE` (diagnosis) to the report")
	fs.StringVar(&h.build, "build", "release", "how the binaries were built, for the report: release or default")
	fs.BoolVar(&h.quick, "quick", false, "few rounds and no 1 GiB message: a smoke test of the harness, not a measurement")
	only := fs.String("only", "", "run only these comma-separated `PARTS`: plain,tls,throughput,memory,rtt,batch,queue,startup")
	fs.IntVar(&h.rounds, "rounds", 31, "measured `N` rounds of each millisecond measurement")
	fs.DurationVar(&h.rtt, "rtt", 100*time.Millisecond, "round-trip `TIME` injected by the proxy")
	fs.Parse(args)
	if h.outbox == "" || h.hello == "" || h.dir == "" {
		return errors.New("-outbox, -hello and -dir are required")
	}
	if h.quick {
		h.rounds = 5
	}
	if *only != "" {
		h.only = map[string]bool{}
		for _, p := range strings.Split(*only, ",") {
			h.only[p] = true
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	h.tool = self
	for _, p := range []*string{&h.outbox, &h.hello, &h.dir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return err
		}
	}
	h.names[h.dir] = "$W"
	h.names[h.outbox] = "outbox"
	h.names[h.hello] = "hello"
	h.names[h.tool] = "benchtool"
	if err := os.MkdirAll(filepath.Join(h.dir, "home"), 0o755); err != nil {
		return err
	}
	// An empty configuration: only the flags of each command count.
	if err := os.WriteFile(filepath.Join(h.dir, "home", "none.toml"), nil, 0o644); err != nil {
		return err
	}
	defer h.stopAll()
	// Interrupted: end the servers this run started, then go.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		h.stopAll()
		os.Exit(130)
	}()

	started := time.Now()
	loadBefore := loadavg()
	h.logf("load average before: %s", loadBefore)
	if err := h.messages(); err != nil {
		return err
	}
	if err := h.servers(); err != nil {
		return err
	}
	parts := []struct {
		name string
		run  func() error
	}{
		{"plain", h.plain1k},
		{"tls", h.tls1k},
		{"throughput", h.throughput},
		{"memory", h.memory},
		{"rtt", h.roundTrips},
		{"batch", h.batch},
		{"queue", h.queueFlush},
		{"startup", h.startup},
	}
	for _, p := range parts {
		if h.only != nil && !h.only[p.name] {
			continue
		}
		h.logf("== %s", p.name)
		if err := p.run(); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	loadAfter := loadavg()
	h.logf("load average after: %s", loadAfter)
	report := h.report(started, time.Since(started), loadBefore, loadAfter, *notes)
	return os.WriteFile(*out, []byte(report), 0o644)
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (h *harness) baseEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(h.dir, "home"),
		"LANG=C",
		"OUTBOX_CONFIG=" + filepath.Join(h.dir, "home", "none.toml"),
	}
}

// path of a scratch file.
func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

var sizes = []struct {
	name string
	n    int64
}{
	{"1 KiB", 1 << 10},
	{"1 MiB", 1 << 20},
	{"100 MiB", 100 << 20},
	{"1 GiB", 1 << 30},
}

func msgFile(size string) string { return "msg-" + strings.ReplaceAll(size, " ", "") + ".eml" }

func (h *harness) messages() error {
	big := h.only == nil || h.only["throughput"] || h.only["memory"]
	for _, s := range sizes {
		if (h.quick || !big) && s.n > 100<<20 {
			continue
		}
		p := h.path(msgFile(s.name))
		if fi, err := os.Stat(p); err == nil && fi.Size() == s.n {
			continue
		}
		h.logf("writing the %s message", s.name)
		if err := genMessage(p, s.n, false); err != nil {
			return err
		}
	}
	return nil
}

// servers starts smtp-sink and the discard servers, and writes msmtp's
// configuration for them.
func (h *harness) servers() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	sinkAddr := "127.0.0.1:" + strconv.Itoa(port)
	// smtp-sink as in the issue: default extensions, 256 sessions.
	if err := h.start("smtp-sink", "smtp-sink", "-u", "nobody", sinkAddr, "256"); err != nil {
		return err
	}
	if err := waitDial(sinkAddr); err != nil {
		return fmt.Errorf("smtp-sink: %w", err)
	}
	h.names[sinkAddr] = "$SMTP_SINK"
	h.addrs["smtp-sink"] = sinkAddr

	type srv struct {
		name string
		args []string
	}
	for _, s := range []srv{
		{"discard", []string{"-tls", "none"}},
		{"discard-tls", []string{"-tls", "starttls", "-auth"}},
	} {
		if _, err := h.discard(s.name, s.args...); err != nil {
			return err
		}
	}
	if h.only == nil || h.only["rtt"] {
		for _, m := range rttModes {
			addr, err := h.discard(m.name+"-server", m.discard...)
			if err != nil {
				return err
			}
			if err := h.proxy(m.name, addr); err != nil {
				return err
			}
		}
	}
	return h.writeMsmtprc()
}

// proxy starts the delaying proxy in front of upstream.
func (h *harness) proxy(name, upstream string) error {
	af := h.path(name + ".addr")
	os.Remove(af)
	log := h.path(name + ".log")
	os.Remove(log)
	if err := h.start(name, h.tool, "proxy", "-addr-file", af, "-upstream", upstream, "-rtt", h.rtt.String(), "-log", log); err != nil {
		return err
	}
	addr, err := waitAddrFile(af)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	h.names[addr] = "$" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	h.addrs[name] = addr
	h.ca[name] = h.ca[name+"-server"]
	return nil
}

// writeMsmtprc writes one msmtp account per server. The password is in the
// file so that msmtp runs no password command.
func (h *harness) writeMsmtprc() error {
	var b strings.Builder
	b.WriteString("defaults\ndomain localhost\ntimeout 60\nsyslog off\n\n")
	names := make([]string, 0, len(h.addrs))
	for n := range h.addrs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		host, port, _ := net.SplitHostPort(h.addrs[n])
		fmt.Fprintf(&b, "account %s\nhost %s\nport %s\n", n, host, port)
		switch {
		case strings.Contains(n, "implicit"):
			fmt.Fprintf(&b, "tls on\ntls_starttls off\ntls_trust_file %s\nauth plain\nuser bench\npassword secret\n", h.ca[n])
		case strings.Contains(n, "tls"):
			fmt.Fprintf(&b, "tls on\ntls_starttls on\ntls_trust_file %s\nauth plain\nuser bench\npassword secret\n", h.ca[n])
		default:
			b.WriteString("tls off\nauth off\n")
		}
		b.WriteString("\n")
	}
	h.msmtprc = h.path("msmtprc")
	h.names[h.msmtprc] = "$W/msmtprc"
	return os.WriteFile(h.msmtprc, []byte(b.String()), 0o600)
}

func (h *harness) start(name, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Dir = h.dir
	logf, err := os.Create(h.path(name + ".stderr"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	h.procs = append(h.procs, cmd)
	return nil
}

// stopAll ends the servers this harness started, by their process ids.
func (h *harness) stopAll() {
	for _, c := range h.procs {
		c.Process.Kill()
		c.Wait()
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func waitDial(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitAddrFile(path string) (string, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no address in %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// discard starts a discard server and returns its address.
func (h *harness) discard(name string, args ...string) (string, error) {
	af := h.path(name + ".addr")
	os.Remove(af)
	a := append([]string{"discard", "-addr-file", af}, args...)
	if slices.Contains(args, "starttls") || slices.Contains(args, "implicit") {
		h.ca[name] = h.path(name + "-ca.pem")
		a = append(a, "-write-ca", h.ca[name])
		h.names[h.ca[name]] = "$W/" + name + "-ca.pem"
	}
	if err := h.start(name, h.tool, a...); err != nil {
		return "", err
	}
	addr, err := waitAddrFile(af)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	h.names[addr] = "$" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	h.addrs[name] = addr
	return addr, nil
}
