package queue

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

func TestEnqueueLayout(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	msg := testMessage("m1", 100)
	e := enqueue(t, q, testEnvelope("work", "bob@example.org", "carol@example.org"), msg)

	if !ValidID(e.ID) {
		t.Fatalf("ID %q does not match the ID pattern", e.ID)
	}
	got, err := os.ReadFile(filepath.Join(q.Dir(), "entries", e.ID, "message"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Errorf("message file differs from the message queued")
	}
	raw, err := os.ReadFile(filepath.Join(q.Dir(), "entries", e.ID, "envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if m["version"] != float64(1) || m["account"] != "work" || m["from"] != "alice@example.org" || m["message_id"] != "<m1@test>" {
		t.Errorf("envelope.json = %s", raw)
	}
	des, err := os.ReadDir(filepath.Join(q.Dir(), "tmp"))
	if err != nil || len(des) != 0 {
		t.Errorf("tmp/ holds %v after a commit (err %v)", des, err)
	}

	list, err := q.List()
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v", list, err)
	}
	l := list[0]
	if l.ID != e.ID || l.State != StateQueued || l.Size != int64(len(msg)) || l.Subject != "test m1" ||
		!l.Created.Equal(c.Now()) || !l.Due(c.Now()) || l.Attempts != 0 {
		t.Errorf("listed entry = %+v", l)
	}
	if got := strings.Join(l.RecipientAddresses(), ","); got != "bob@example.org,carol@example.org" {
		t.Errorf("recipients = %s", got)
	}
	g, err := q.Get(e.ID)
	if err != nil || g.ID != e.ID {
		t.Fatalf("Get = %v, %v", g, err)
	}
	r, err := q.Message(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != msg {
		t.Errorf("Message returned other octets")
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	from, _ := smtp.ParseAddress("alice@example.org")
	to, _ := smtp.ParseAddress(`"bob smith"@example.org`)
	env := &smtp.Envelope{
		From:       from,
		Recipients: []smtp.Recipient{{Address: to, Notify: []string{"FAILURE", "DELAY"}, ORCPT: "bob@example.org"}},
		Body:       smtp.Body8BitMIME, UTF8: true, RequireTLS: true, Return: "HDRS", EnvID: "env1",
	}
	back, err := NewEnvelope("a", env).SMTP()
	if err != nil {
		t.Fatal(err)
	}
	if back.From != env.From || back.Recipients[0].Address != to || strings.Join(back.Recipients[0].Notify, ",") != "FAILURE,DELAY" ||
		back.Recipients[0].ORCPT != "bob@example.org" || back.Body != env.Body || !back.UTF8 || !back.RequireTLS || back.Return != "HDRS" || back.EnvID != "env1" {
		t.Errorf("round trip gave %+v", back)
	}
	null, err := NewEnvelope("a", &smtp.Envelope{Recipients: env.Recipients}).SMTP()
	if err != nil || !null.From.IsNull() {
		t.Errorf("null sender round trip = %+v, %v", null, err)
	}
	sub := testEnvelope("a", "x@example.org", "y@example.org", "z@example.org").Subset([]int{0, 2})
	if len(sub.Recipients) != 2 || sub.Recipients[0].Address != "x@example.org" || sub.Recipients[1].Address != "z@example.org" {
		t.Errorf("Subset = %+v", sub.Recipients)
	}
}

func TestEnqueueRefusesBadEnvelopes(t *testing.T) {
	q := openQueue(t, newClock())
	for _, env := range []Envelope{
		testEnvelope("a"),
		testEnvelope("a", "not an address"),
		{Account: "a", From: "bad<from>@x", Recipients: []Recipient{{Address: "b@example.org"}}},
	} {
		if _, err := q.Enqueue(env, strings.NewReader("x")); err == nil {
			t.Errorf("Enqueue(%+v) succeeded", env)
		}
	}
	assertEmpty(t, q)
}

func assertEmpty(t *testing.T, q *Queue) {
	t.Helper()
	for _, d := range []string{"tmp", "entries", "failed"} {
		des, err := os.ReadDir(filepath.Join(q.Dir(), d))
		if err != nil {
			t.Fatal(err)
		}
		if len(des) != 0 {
			t.Errorf("%s/ holds %d files", d, len(des))
		}
	}
}

func TestSpool(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	s, err := q.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	msg := testMessage("s1", 5000)
	// The way a sender uses it: a tee while the message streams out.
	tee := io.TeeReader(strings.NewReader(msg), s)
	if _, err := io.CopyN(io.Discard, tee, 100); err != nil {
		t.Fatal(err)
	}
	if list, _ := q.List(); len(list) != 0 {
		t.Fatalf("an uncommitted spool is listed: %v", list)
	}
	// The delivery stopped early; the rest of the input is copied before
	// Commit.
	if _, err := io.Copy(s, strings.NewReader(msg[100:])); err != nil {
		t.Fatal(err)
	}
	lastErr := &smtp.StageError{Stage: smtp.StageDataEnd, Err: smtp.ErrOutcomeUnknown}
	e, err := s.Commit(testEnvelope("a", "bob@example.org"), lastErr)
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != s.ID() || e.Size != int64(len(msg)) || s.Size() != int64(len(msg)) {
		t.Errorf("entry %s size %d, spool %s size %d, message %d", e.ID, e.Size, s.ID(), s.Size(), len(msg))
	}
	if e.Attempts != 1 || !e.OutcomeUnknown || e.LastError != lastErr.Error() || !e.NextAttempt.Equal(c.Now().Add(5*time.Minute)) {
		t.Errorf("entry after a failed direct attempt = %+v", e)
	}
	if s.Abort() != nil {
		t.Errorf("Abort after Commit failed")
	}
	if _, err := s.Commit(testEnvelope("a", "bob@example.org"), nil); err == nil {
		t.Errorf("a second Commit succeeded")
	}
	got, _ := q.Message(e.ID)
	b, _ := io.ReadAll(got)
	got.Close()
	if string(b) != msg {
		t.Errorf("spooled message differs")
	}

	s2, err := q.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	s2.Write([]byte("data"))
	if err := s2.Abort(); err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(filepath.Join(q.Dir(), "tmp"))
	if len(des) != 0 {
		t.Errorf("tmp/ holds %d files after Abort", len(des))
	}
	if list, _ := q.List(); len(list) != 1 {
		t.Errorf("%d entries queued, want 1", len(list))
	}
}

// A spool whose file cannot be written does not break the stream it
// shadows; Commit reports the error.
func TestSpoolWriteErrorIsDeferred(t *testing.T) {
	q := openQueue(t, newClock())
	s, err := q.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	s.f.Close() // every later write fails
	n, err := s.Write([]byte("hello"))
	if n != 5 || err != nil {
		t.Fatalf("Write = %d, %v; want 5, nil", n, err)
	}
	if s.Err() == nil {
		t.Fatal("Err is nil after a failed write")
	}
	if _, err := s.Commit(testEnvelope("a", "bob@example.org"), nil); err == nil {
		t.Fatal("Commit succeeded after a failed write")
	}
	assertEmpty(t, q)
}

func TestNewerFormatRefused(t *testing.T) {
	q := openQueue(t, newClock())
	e := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("v", 10))
	p := filepath.Join(q.Dir(), "entries", e.ID, "envelope.json")
	if err := os.WriteFile(p, []byte(`{"version": 2, "future": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(e.ID); !errors.Is(err, ErrNewerFormat) {
		t.Errorf("Get of a version 2 entry: %v, want ErrNewerFormat", err)
	}
}

func TestGetRemove(t *testing.T) {
	q := openQueue(t, newClock())
	e := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("r", 10))
	ctx := context.Background()
	if _, err := q.Get("../../etc"); !errors.Is(err, ErrBadID) {
		t.Errorf("Get(../../etc) = %v, want ErrBadID", err)
	}
	if _, err := q.Get("20250101T000000-aaaaaaaa"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing ID = %v, want ErrNotFound", err)
	}
	if err := q.Remove(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Get(e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Remove = %v", err)
	}
	if err := q.Remove(ctx, e.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove = %v, want ErrNotFound", err)
	}
	assertEmpty(t, q)
}

func TestPurge(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	old := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("old", 10))
	c.Advance(48 * time.Hour)
	young := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("young", 10))
	c.Advance(time.Hour)
	purged, err := q.Purge(context.Background(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(purged) != 1 || purged[0].ID != old.ID {
		t.Fatalf("purged %v, want only %s", purged, old.ID)
	}
	list, _ := q.List()
	if len(list) != 1 || list[0].ID != young.ID {
		t.Errorf("left %v, want %s", list, young.ID)
	}
}

func TestLockBusy(t *testing.T) {
	q := openQueue(t, newClock())
	release, err := q.lock(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	// A second Queue on the same directory has a file description of its
	// own, as another process would.
	q2 := openQueueDir(t, q.Dir(), newClock())
	if _, err := q2.Flush(context.Background(), &fakeDialer{}, nil); !errors.Is(err, ErrBusy) {
		t.Errorf("Flush while locked = %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q2.Flush(ctx, &fakeDialer{}, &FlushOptions{Wait: true}); !errors.Is(err, context.Canceled) {
		t.Errorf("waiting Flush with a cancelled context = %v", err)
	}
	release()
	if _, err := q2.Flush(context.Background(), &fakeDialer{}, nil); err != nil {
		t.Errorf("Flush after release = %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Setenv("LocalAppData", filepath.Join(t.TempDir(), "local"))
		d, err := DefaultDir()
		if want := filepath.Join(os.Getenv("LocalAppData"), "outbox", "queue"); err != nil || d != want {
			t.Errorf("DefaultDir = %s, %v; want %s", d, err, want)
		}
		return
	}
	t.Setenv("XDG_STATE_HOME", filepath.Join(t.TempDir(), "state"))
	d, err := DefaultDir()
	if want := filepath.Join(os.Getenv("XDG_STATE_HOME"), "outbox", "queue"); err != nil || d != want {
		t.Errorf("DefaultDir = %s, %v; want %s", d, err, want)
	}
	// XDG base directories must be absolute; a relative one is ignored.
	t.Setenv("XDG_STATE_HOME", "relative")
	t.Setenv("HOME", filepath.Join(t.TempDir(), "home"))
	d, err = DefaultDir()
	if want := filepath.Join(os.Getenv("HOME"), ".local", "state", "outbox", "queue"); err != nil || d != want {
		t.Errorf("DefaultDir = %s, %v; want %s", d, err, want)
	}
}
