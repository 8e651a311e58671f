package sink

import (
	"bytes"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func testMsg(from string, to []string, data string) *Message {
	return &Message{
		ID:       newID(),
		From:     from,
		To:       to,
		Data:     []byte(data),
		Received: time.Date(2025, 11, 2, 9, 4, 5, 0, time.UTC),
	}
}

func TestEnvelope(t *testing.T) {
	m := testMsg("alice@example.org", []string{"bob@example.org", "carol@example.org"}, "Subject: x\r\n\r\nbody\r\n")
	want := "Return-Path: <alice@example.org>\r\n" +
		"X-Original-To: bob@example.org\r\n" +
		"X-Original-To: carol@example.org\r\n" +
		"Delivered-To: bob@example.org\r\n" +
		"Delivered-To: carol@example.org\r\n"
	if got := string(m.Envelope()); got != want {
		t.Errorf("envelope:\n%q\nwant:\n%q", got, want)
	}

	// A message with LF line endings gets LF envelope lines; CR and LF in
	// an address cannot add a header.
	m = testMsg("", []string{"bob@example.org\r\nBcc: x"}, "Subject: x\n\nbody\n")
	want = "Return-Path: <>\nX-Original-To: bob@example.orgBcc: x\nDelivered-To: bob@example.orgBcc: x\n"
	if got := string(m.Envelope()); got != want {
		t.Errorf("envelope:\n%q\nwant:\n%q", got, want)
	}
}

func TestMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail")
	md, err := NewMaildir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := testMsg("alice@example.org", []string{"bob@example.org"}, testMessage)
	path, err := md.Deliver(m)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != filepath.Join(dir, "new") || !strings.Contains(filepath.Base(path), m.ID) {
		t.Errorf("path %s", path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(m.Envelope()) + testMessage; string(got) != want {
		t.Errorf("file:\n%q\nwant:\n%q", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Errorf("tmp not empty: %v", ents)
	}
	if _, err := os.Stat(filepath.Join(dir, "cur")); err != nil {
		t.Error(err)
	}
}

func TestMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	mb, err := NewMbox(path)
	if err != nil {
		t.Fatal(err)
	}
	m1 := testMsg("alice@example.org", []string{"bob@example.org"}, "Subject: one\n\nFrom here\n>From there\nno final newline")
	m2 := testMsg("", []string{"bob@example.org"}, "Subject: two\n\nbody\n")
	for _, m := range []*Message{m1, m2} {
		if p, err := mb.Deliver(m); err != nil || p != path {
			t.Fatalf("Deliver: %q %v", p, err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "From alice@example.org Sun Nov  2 09:04:05 2025\n" +
		"Return-Path: <alice@example.org>\nX-Original-To: bob@example.org\nDelivered-To: bob@example.org\n" +
		"Subject: one\n\n>From here\n>>From there\nno final newline\n\n" +
		"From MAILER-DAEMON Sun Nov  2 09:04:05 2025\n" +
		"Return-Path: <>\nX-Original-To: bob@example.org\nDelivered-To: bob@example.org\n" +
		"Subject: two\n\nbody\n\n"
	if string(got) != want {
		t.Errorf("mbox:\n%s\nwant:\n%s", got, want)
	}
}

// Concurrent appends do not interleave.
func TestMboxConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	mb, err := NewMbox(path)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("line of text\n", 2000)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := mb.Deliver(testMsg("a@example.org", []string{"b@example.org"}, body)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, _ := os.ReadFile(path)
	entries := strings.Split(string(got), "From a@example.org ")
	if len(entries) != 9 {
		t.Fatalf("%d entries", len(entries)-1)
	}
	for _, e := range entries[1:] {
		if !strings.HasSuffix(e, body+"\n") {
			t.Fatalf("entry interleaved or truncated")
		}
	}
}

func TestStream(t *testing.T) {
	var buf bytes.Buffer
	st := NewStream(&buf)
	if _, err := st.Deliver(testMsg("alice@example.org", []string{"bob@example.org"}, "Subject: x\r\n\r\nFrom me\r\n")); err != nil {
		t.Fatal(err)
	}
	want := "From alice@example.org Sun Nov  2 09:04:05 2025\r\n" +
		"Return-Path: <alice@example.org>\r\nX-Original-To: bob@example.org\r\nDelivered-To: bob@example.org\r\n" +
		"Subject: x\r\n\r\n>From me\r\n\r\n"
	if buf.String() != want {
		t.Errorf("stream:\n%q\nwant:\n%q", buf.String(), want)
	}
}

// End to end: what a client sent is in the Maildir file byte for byte,
// after the envelope lines.
func TestServerMaildir(t *testing.T) {
	md, err := NewMaildir(filepath.Join(t.TempDir(), "mail"))
	if err != nil {
		t.Fatal(err)
	}
	s, addr := startServer(t, Config{Store: md, Keep: true})
	if err := smtp.SendMail(addr, nil, "alice@example.org", []string{"bob@example.org"}, []byte(testMessage)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, s, 1)
	m := s.Messages()[0]
	got, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	want := "Return-Path: <alice@example.org>\r\nX-Original-To: bob@example.org\r\nDelivered-To: bob@example.org\r\n" + testMessage
	if string(got) != want {
		t.Errorf("file:\n%q\nwant:\n%q", got, want)
	}
}

// Whatever a client sends, its message cannot forge an mbox separator, and
// undoing the mboxrd quoting gives the data back.
func FuzzMboxEntry(f *testing.F) {
	f.Add("Subject: x\r\n\r\nFrom me\r\n")
	f.Add("From a\n>From b\n>>From c\nFrom")
	f.Add("no newline at all")
	f.Add("\n\nFrom \n")
	f.Fuzz(func(t *testing.T, data string) {
		m := testMsg("a@example.org", []string{"b@example.org"}, data)
		entry := string(mboxEntry(m))
		eol := lineEnding(m.Data)
		head := "From a@example.org Sun Nov  2 09:04:05 2025" + eol + string(m.Envelope())
		if !strings.HasPrefix(entry, head) || !strings.HasSuffix(entry, eol) {
			t.Fatalf("entry %q", entry)
		}
		body := strings.TrimSuffix(strings.TrimPrefix(entry, head), eol)
		var out strings.Builder
		for line := range strings.Lines(body) {
			if strings.HasPrefix(line, "From ") {
				t.Fatalf("unquoted From line %q in %q", line, body)
			}
			if strings.HasPrefix(strings.TrimLeft(line, ">"), "From ") {
				line = line[1:]
			}
			out.WriteString(line)
		}
		want := data
		if data != "" && !strings.HasSuffix(data, "\n") {
			want += eol
		}
		if out.String() != want {
			t.Fatalf("unquoted %q, want %q", out.String(), want)
		}
	})
}
