//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/sink"
)

// streamSize is the size of the message piped into outbox send.
const streamSize = 200 << 20

// streamMaxRSS bounds outbox's peak resident memory while it sends a
// message of streamSize: the message flows through, it is never held.
const streamMaxRSS = 48 << 20

// TestSendStreamsLargeMessage pipes a 200 MiB message, generated on the
// fly, into outbox send and checks that the sink got every byte and that
// the child's peak resident set, read from /proc/PID/status (VmHWM) once
// it has sent the whole message and waits for the final reply, stayed
// bounded. The binary is built with go build, not the test binary, so
// that -race or -cover in the test flags do not change what is measured.
func TestSendStreamsLargeMessage(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build outbox: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "outbox")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	type received struct {
		size   int64
		sum    string
		hwm    int64
		hwmErr error
	}
	var pid atomic.Int64
	got := make(chan received, 1)
	srv, err := sink.New(sink.Config{
		Listen:      "127.0.0.1:0",
		TLS:         sink.TLSStartTLS,
		RequireAuth: true,
		User:        "demo",
		Password:    "secret",
		Store:       storeFunc(func(*sink.Message) (string, error) { return "", nil }),
		OnMessage: func(m sink.Message) {
			// The client has sent the whole message and waits for the
			// reply: its high-water mark covers the upload.
			hwm, err := peakRSS(int(pid.Load()))
			sum := sha256.Sum256(m.Data)
			select {
			case got <- received{m.Size, hex.EncodeToString(sum[:]), hwm, err}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, srv.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	in := newMessageStream(streamSize)
	cmd := exec.CommandContext(ctx, bin, "send", "-t")
	cmd.Stdin = in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"OUTBOX_SERVER=" + addr.String(),
		"OUTBOX_TLS_CA=" + ca,
		"OUTBOX_USER=demo",
		"OUTBOX_PASSWORD=secret",
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid.Store(int64(cmd.Process.Pid))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("outbox send: %v\nstdout: %s\nstderr: %s", err, stdout.Bytes(), stderr.Bytes())
	}
	if stdout.Len() > 0 || stderr.Len() > 0 {
		t.Errorf("outbox send printed\nstdout: %s\nstderr: %s", stdout.Bytes(), stderr.Bytes())
	}

	var r received
	select {
	case r = <-got:
	default:
		t.Fatalf("the sink received no message")
	}
	if in.sent < streamSize {
		t.Fatalf("generated %d octets, want at least %d", in.sent, streamSize)
	}
	want := hex.EncodeToString(in.wire.Sum(nil))
	if r.size != in.wireLen || r.sum != want {
		t.Errorf("the sink received %d octets with SHA-256 %s, want %d octets with SHA-256 %s", r.size, r.sum, in.wireLen, want)
	}
	if r.hwmErr != nil {
		t.Fatalf("reading the peak memory of outbox: %v", r.hwmErr)
	}
	t.Logf("sent %d MiB; peak resident memory of outbox: %.1f MiB", in.wireLen>>20, float64(r.hwm)/(1<<20))
	if r.hwm > streamMaxRSS {
		t.Errorf("outbox used %.1f MiB at its peak to send %d MiB, want at most %d MiB: the message must be streamed", float64(r.hwm)/(1<<20), in.wireLen>>20, streamMaxRSS>>20)
	}
}

// storeFunc is a [sink.Store] from a function.
type storeFunc func(*sink.Message) (string, error)

func (f storeFunc) Deliver(m *sink.Message) (string, error) { return f(m) }

// peakRSS reads the peak resident set size (VmHWM) of process pid.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM %q: %v", v, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// messageStream generates a message of at least size octets with LF line
// ends, line by line, and hashes the CRLF form that should reach the
// server. Every 1000th line starts with a dot.
type messageStream struct {
	size    int64
	sent    int64
	line    int
	buf     []byte
	wire    hash.Hash
	wireLen int64
}

func newMessageStream(size int64) *messageStream {
	s := &messageStream{size: size, wire: sha256.New()}
	s.emit([]byte("From: alice@example.org\nTo: bob@example.com\nSubject: big\n" +
		"Date: Mon, 9 Mar 2026 10:00:00 +0000\nMessage-ID: <big@example.org>\n\n"))
	return s
}

func (s *messageStream) emit(b []byte) {
	s.buf = append(s.buf, b...)
	s.sent += int64(len(b))
	crlf := bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	s.wire.Write(crlf)
	s.wireLen += int64(len(crlf))
}

func (s *messageStream) Read(p []byte) (int, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var line [77]byte
	for len(s.buf) < len(p) && s.sent < s.size {
		for i := range 76 {
			line[i] = alphabet[(s.line+i)%len(alphabet)]
		}
		if s.line%1000 == 0 {
			line[0] = '.'
		}
		line[76] = '\n'
		s.line++
		s.emit(line[:])
	}
	if len(s.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.buf)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	return n, nil
}
