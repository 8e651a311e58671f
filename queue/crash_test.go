//go:build unix

package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The fault-injection tests run the test binary again as a child process
// (selected by childEnv) that enqueues or flushes and kills itself with
// SIGKILL at a named point: a crash hook inside the queue code, or a point
// of the SMTP conversation seen by a wrapped connection. The parent then
// inspects the queue and the sink, flushes to completion and counts the
// deliveries.
const childEnv = "OUTBOX_QUEUE_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	point := os.Getenv("QT_CRASH")
	nth, _ := strconv.Atoi(os.Getenv("QT_NTH"))
	var mu sync.Mutex
	seen := map[string]int{}
	hit := func(p string) {
		mu.Lock()
		seen[p]++
		n := seen[p]
		mu.Unlock()
		if p == point && n == nth {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	crashHook = hit
	q, err := Open(os.Getenv("QT_DIR"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch mode {
	case "enqueue":
		_, err = q.Enqueue(testEnvelope("a", "bob@example.org"), strings.NewReader(testMessage(os.Getenv("QT_MSG"), 1000)))
	case "flush":
		d := &sinkDialer{addr: os.Getenv("QT_ADDR"), wrap: func(c net.Conn) net.Conn { return &crashConn{Conn: c, hit: hit} }}
		_, err = q.Flush(context.Background(), d, &FlushOptions{All: true, Wait: true})
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashConn reports points of the SMTP conversation the client writes:
// "wire:mail" after MAIL FROM went out, "wire:mid-data" after the first
// part of a message's data, "wire:final-dot" after the end of the data
// (before the server's reply is read).
type crashConn struct {
	net.Conn
	hit    func(string)
	inData bool
	midHit bool
	tail   []byte
}

func (c *crashConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		return n, err
	}
	if !c.inData {
		if bytes.Contains(p, []byte("MAIL FROM:")) {
			c.hit("wire:mail")
		}
		// The body follows once the 354 reply was read.
		if bytes.Contains(p, []byte("DATA\r\n")) {
			c.inData = true
			c.tail = nil
		}
		return n, nil
	}
	buf := append(c.tail, p...)
	if bytes.Contains(buf, []byte("\r\n.\r\n")) {
		c.inData, c.midHit = false, false
		c.hit("wire:final-dot")
		return n, nil
	}
	if !c.midHit {
		c.midHit = true
		c.hit("wire:mid-data")
	}
	c.tail = append([]byte(nil), buf[max(0, len(buf)-4):]...)
	return n, nil
}

// runChild runs the child and reports whether it died of SIGKILL.
func runChild(t *testing.T, mode string, env ...string) (killed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode}, env...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true, errb.String()
		}
	}
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, errb.String())
	}
	return false, errb.String()
}

// checkEntries fails unless every entry in entries/ is complete.
func checkEntries(t *testing.T, q *Queue) []*Entry {
	t.Helper()
	names, err := readDirNames(q, "entries")
	if err != nil {
		t.Fatal(err)
	}
	var es []*Entry
	for _, n := range names {
		e, err := readEntry(filepath.Join(q.Dir(), "entries", n), StateQueued)
		if err != nil {
			t.Fatalf("entry %s is not complete: %v", n, err)
		}
		st, err := os.Stat(filepath.Join(q.Dir(), "entries", n, "message"))
		if err != nil || st.Size() != e.Size {
			t.Fatalf("entry %s: message %v, size %d in the envelope", n, err, e.Size)
		}
		es = append(es, e)
	}
	return es
}

func TestCrashDuringFlush(t *testing.T) {
	rcpts := []string{"bob@example.org", "carol@example.org"}
	msgs := []string{"c1", "c2", "c3"}
	for _, tc := range []struct {
		point string
		nth   int
		// crashed is the message being sent at the crash, if any.
		crashed string
		// dupOK allows the crashed message twice: the crash came after
		// the final dot and before the outcome was recorded.
		dupOK bool
		// flagged: its next delivery must be reported as a possible
		// duplicate (and may only be then).
		flagged bool
	}{
		{point: "flush:locked", nth: 1},
		{point: "flush:dial", nth: 1}, // before connect
		{point: "wire:mail", nth: 2, crashed: "c2"},
		{point: "wire:mid-data", nth: 2, crashed: "c2"},
		{point: "flush:data-sent", nth: 2, crashed: "c2", flagged: true},
		{point: "wire:final-dot", nth: 2, crashed: "c2", dupOK: true, flagged: true},
		{point: "flush:replied", nth: 2, crashed: "c2", dupOK: true, flagged: true},
		{point: "flush:remembered", nth: 2, crashed: "c2"},
	} {
		t.Run(strings.ReplaceAll(tc.point, ":", "-"), func(t *testing.T) {
			s, addr := startSink(t)
			q, err := Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				enqueue(t, q, testEnvelope("a", rcpts...), testMessage(m, 100_000))
			}
			killed, stderr := runChild(t, "flush", "QT_DIR="+q.Dir(), "QT_ADDR="+addr, "QT_CRASH="+tc.point, "QT_NTH="+strconv.Itoa(tc.nth))
			if !killed {
				t.Fatalf("the child never reached %s (stderr %q)", tc.point, stderr)
			}

			// Right after the crash: nothing lost, every message is still
			// queued or already delivered, and every entry is whole.
			queued := map[string]bool{}
			for _, e := range checkEntries(t, q) {
				queued[e.MessageID] = true
			}
			got := deliveries(s)
			for _, m := range msgs {
				id := "<" + m + "@test>"
				if !queued[id] && got[id+" bob@example.org"] == 0 {
					t.Errorf("%s is neither queued nor delivered after the crash", id)
				}
			}

			rep, err := q.Flush(context.Background(), &sinkDialer{addr: addr}, &FlushOptions{All: true})
			if err != nil {
				t.Fatal(err)
			}
			drain(t, s)
			got = deliveries(s)
			flaggedIDs := map[string]bool{}
			for _, r := range rep.Entries {
				if r.PossibleDuplicate {
					flaggedIDs[r.MessageID] = true
				}
				if !r.Removed {
					t.Errorf("entry %s not delivered by the recovery flush: %+v", r.ID, r)
				}
			}
			for _, m := range msgs {
				id := "<" + m + "@test>"
				for _, rc := range rcpts {
					n := got[id+" "+rc]
					switch {
					case m == tc.crashed && tc.dupOK && (n == 1 || n == 2):
						if n == 2 && !flaggedIDs[id] {
							t.Errorf("%s went twice to %s without being reported as a possible duplicate", id, rc)
						}
						t.Logf("%s went to %s %d times", id, rc, n)
					case n != 1:
						t.Errorf("%s delivered %d times to %s, want once", id, n, rc)
					}
				}
				if want := m == tc.crashed && tc.flagged; flaggedIDs[id] != want {
					t.Errorf("%s reported as a possible duplicate: %v, want %v", id, flaggedIDs[id], want)
				}
			}
			assertEmpty(t, q)
		})
	}
}

func TestCrashDuringEnqueue(t *testing.T) {
	for _, tc := range []struct {
		point  string
		queued bool
	}{
		{"enqueue:message-written", false},
		{"enqueue:envelope-written", false},
		{"enqueue:renamed", true},
	} {
		t.Run(strings.ReplaceAll(tc.point, ":", "-"), func(t *testing.T) {
			s, addr := startSink(t)
			dir := t.TempDir()
			killed, stderr := runChild(t, "enqueue", "QT_DIR="+dir, "QT_MSG=e1", "QT_CRASH="+tc.point, "QT_NTH=1")
			if !killed {
				t.Fatalf("the child never reached %s (stderr %q)", tc.point, stderr)
			}
			// A later run, after the spool left in tmp/ is stale.
			q, err := Open(dir, &Options{Now: func() time.Time { return time.Now().Add(37 * time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			es := checkEntries(t, q)
			if len(es) != map[bool]int{false: 0, true: 1}[tc.queued] {
				t.Fatalf("%d entries after a crash at %s", len(es), tc.point)
			}
			if _, err := q.Flush(context.Background(), &sinkDialer{addr: addr}, nil); err != nil {
				t.Fatal(err)
			}
			drain(t, s)
			if n := deliveries(s)["<e1@test> bob@example.org"]; n != len(es) {
				t.Errorf("delivered %d times, want %d", n, len(es))
			}
			assertEmpty(t, q)
		})
	}
}

// Two flushing processes and enqueues at the same time: every message is
// delivered exactly once.
func TestConcurrentFlushProcesses(t *testing.T) {
	s, addr := startSink(t)
	q, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 10 {
		ids = append(ids, fmt.Sprintf("p%d", i))
		enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage(ids[i], 20_000))
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if killed, stderr := runChild(t, "flush", "QT_DIR="+q.Dir(), "QT_ADDR="+addr); killed {
				t.Errorf("a flushing child was killed: %s", stderr)
			}
		})
	}
	for i := 10; i < 30; i++ {
		ids = append(ids, fmt.Sprintf("p%d", i))
		enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage(ids[i], 20_000))
	}
	wg.Wait()
	if _, err := q.Flush(context.Background(), &sinkDialer{addr: addr}, &FlushOptions{All: true, Wait: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, s)
	got := deliveries(s)
	for _, id := range ids {
		if n := got["<"+id+"@test> bob@example.org"]; n != 1 {
			t.Errorf("%s delivered %d times, want once", id, n)
		}
	}
	assertEmpty(t, q)
}
