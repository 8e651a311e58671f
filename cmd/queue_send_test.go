package cmd

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/smtp"
)

// testMessage returns n octets of text in lines of 64.
func testMessage(n int) []byte {
	var b bytes.Buffer
	b.WriteString("Subject: test\r\nMessage-ID: <t@example.org>\r\n\r\n")
	for b.Len() < n {
		b.WriteString("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY\r\n")
	}
	return b.Bytes()
}

func testEnvelope(t *testing.T) queue.Envelope {
	t.Helper()
	from, err := smtp.ParseAddress("alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	to, err := smtp.ParseAddress("bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return queue.NewEnvelope("work", &smtp.Envelope{From: from, Recipients: []smtp.Recipient{{Address: to}}})
}

// tmpEntries counts what is left in the queue's tmp/.
func tmpEntries(t *testing.T, dir string) int {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	return len(des)
}

// TestSpoolTee: whatever part of the input the delivery read before it
// failed, the queued message is the whole input, exactly; a small message
// delivered at once never opens the queue.
func TestSpoolTee(t *testing.T) {
	for _, tt := range []struct {
		name   string
		size   int
		read   int // octets the delivery reads before it fails
		spools bool
	}{
		{"nothing read", 500, 0, false},
		{"small, read partly", 500, 100, false},
		{"small, read whole", 500, 1 << 20, false},
		{"large, read partly", 3 << 20, 2 << 20, true},
		{"large, read whole", 3 << 20, 4 << 20, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := queue.Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			msg := testMessage(tt.size)
			opened := false
			tee := newSpoolTee(bytes.NewReader(msg), func() (*queue.Spool, error) {
				opened = true
				return q.NewSpool()
			})
			got, err := io.ReadAll(io.LimitReader(tee, int64(tt.read)))
			if err != nil || !bytes.Equal(got, msg[:min(tt.read, len(msg))]) {
				t.Fatalf("the delivery read %d octets, err %v", len(got), err)
			}
			if opened != tt.spools {
				t.Errorf("spool opened during the delivery: %v, want %v", opened, tt.spools)
			}
			e, err := tee.commit(testEnvelope(t), errors.New("451 try later"))
			if err != nil {
				t.Fatal(err)
			}
			if e.Size != int64(len(msg)) || e.Attempts != 1 || e.MessageID != "<t@example.org>" {
				t.Errorf("entry: size %d (want %d), attempts %d, message id %q", e.Size, len(msg), e.Attempts, e.MessageID)
			}
			m, err := q.Message(e.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			queued, _ := io.ReadAll(m)
			if !bytes.Equal(queued, msg) {
				t.Errorf("queued %d octets, not the %d of the input", len(queued), len(msg))
			}
		})
	}

	t.Run("discard", func(t *testing.T) {
		dir := t.TempDir()
		q, err := queue.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []int{500, 3 << 20} {
			tee := newSpoolTee(bytes.NewReader(testMessage(size)), q.NewSpool)
			if _, err := io.Copy(io.Discard, tee); err != nil {
				t.Fatal(err)
			}
			tee.discard()
			if n := tmpEntries(t, dir); n != 0 {
				t.Errorf("size %d: %d left in tmp/", size, n)
			}
		}
		if es, _ := q.List(); len(es) != 0 {
			t.Errorf("%d entries queued", len(es))
		}
	})

	// A queue that cannot be opened does not disturb the delivery: the
	// whole message is still read; only queueing it fails.
	t.Run("no queue", func(t *testing.T) {
		msg := testMessage(3 << 20)
		broken := errors.New("read-only file system")
		tee := newSpoolTee(bytes.NewReader(msg), func() (*queue.Spool, error) { return nil, broken })
		got, err := io.ReadAll(tee)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %d octets, err %v", len(got), err)
		}
		if _, err := tee.commit(testEnvelope(t), nil); !errors.Is(err, broken) {
			t.Errorf("commit: %v, want %v", err, broken)
		}
	})
}

func TestParseAge(t *testing.T) {
	for in, want := range map[string]string{"0s": "0s", "90m": "1h30m0s", "7d": "168h0m0s", "1d12h": "36h0m0s"} {
		d, err := parseAge(in)
		if err != nil || d.String() != want {
			t.Errorf("parseAge(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "xd", "3d-1h"} {
		if _, err := parseAge(in); err == nil {
			t.Errorf("parseAge(%q) accepted", in)
		}
	}
}
