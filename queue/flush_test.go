package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

func flush(t *testing.T, q *Queue, d Dialer, o *FlushOptions) *FlushReport {
	t.Helper()
	rep, err := q.Flush(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestFlushGroupsByAccount(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	var log bytes.Buffer
	q.log = NewLogger(&log, JSONLines)
	var ids []string
	for i, acct := range []string{"a", "b", "a", "b", "a"} {
		e := enqueue(t, q, testEnvelope(acct, "bob@example.org"), testMessage(fmt.Sprint("g", i), 200))
		ids = append(ids, e.ID)
		c.Advance(time.Second)
	}
	d := &fakeDialer{}
	rep := flush(t, q, d, nil)

	if d.dials["a"] != 1 || d.dials["b"] != 1 {
		t.Errorf("dials = %v, want one session per account", d.dials)
	}
	var order []string
	for _, s := range d.Sent() {
		order = append(order, s.account+":"+messageIDField.FindStringSubmatch(string(s.data))[1])
		if s.env.Size != int64(len(s.data)) {
			t.Errorf("SIZE %d for a message of %d octets", s.env.Size, len(s.data))
		}
	}
	if got, want := strings.Join(order, " "), "a:<g0@test> a:<g2@test> a:<g4@test> b:<g1@test> b:<g3@test>"; got != want {
		t.Errorf("sent %s, want %s", got, want)
	}
	if len(rep.Entries) != 5 {
		t.Fatalf("%d entry reports, want 5", len(rep.Entries))
	}
	for _, r := range rep.Entries {
		if !r.Removed || r.Err != nil || r.PossibleDuplicate || r.Recipients[0].Fate != FateDelivered || r.ServerID != "Q1" {
			t.Errorf("report %+v", r)
		}
	}
	assertEmpty(t, q)
	as, err := q.Recall("<g3@test>")
	if err != nil || len(as) != 1 || as[0].Entry != ids[3] || as[0].Recipients[0] != "bob@example.org" || as[0].ServerID != "Q1" {
		t.Errorf("Recall = %+v, %v", as, err)
	}
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d log lines, want 5:\n%s", len(lines), log.String())
	}
	var rec LogRecord
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Result != "delivered" || rec.Account != "a" || rec.Entry != ids[0] || rec.MessageID != "<g0@test>" || rec.ServerID != "Q1" || rec.Recipients[0] != "bob@example.org" {
		t.Errorf("log record %+v", rec)
	}
}

func TestFlushPartial(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	e := enqueue(t, q, testEnvelope("a", "bob@example.org", "carol@example.org", "dave@example.org"), testMessage("p", 10))
	d := &fakeDialer{respond: func(env *smtp.Envelope, _ []byte) (*smtp.Result, error) {
		return refuse(env, map[string]int{"carol@example.org": 451, "dave@example.org": 550})
	}}
	rep := flush(t, q, d, nil)
	r := rep.Entries[0]
	if r.Removed || r.Failed || r.Recipients[0].Fate != FateDelivered || r.Recipients[1].Fate != FateDeferred || r.Recipients[2].Fate != FateBounced {
		t.Fatalf("report %+v", r)
	}
	got, err := q.Get(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Recipients) != 1 || got.Recipients[0].Address != "carol@example.org" || !strings.Contains(got.Recipients[0].LastError, "451") {
		t.Errorf("recipients left: %+v", got.Recipients)
	}
	if len(got.Delivered) != 1 || got.Delivered[0].Address != "bob@example.org" || got.Delivered[0].ServerID != "Q1" {
		t.Errorf("delivered: %+v", got.Delivered)
	}
	if len(got.Refused) != 1 || got.Refused[0].Address != "dave@example.org" || got.Refused[0].Code != 550 || got.Refused[0].Enhanced != "5.1.1" {
		t.Errorf("refused: %+v", got.Refused)
	}
	if got.Attempts != 1 || !got.NextAttempt.Equal(c.Now().Add(5*time.Minute)) {
		t.Errorf("attempts %d, next %v", got.Attempts, got.NextAttempt)
	}

	// Not due yet: nothing is sent.
	c.Advance(4 * time.Minute)
	if rep := flush(t, q, d, nil); len(rep.Entries) != 0 {
		t.Errorf("a flush before the entry is due sent %d", len(rep.Entries))
	}
	c.Advance(time.Minute)
	d.respond = nil
	rep = flush(t, q, d, nil)
	sent := d.Sent()
	if last := sent[len(sent)-1]; len(last.env.Recipients) != 1 || last.env.Recipients[0].Address.String() != "carol@example.org" {
		t.Errorf("retry went to %+v, want carol alone", last.env.Recipients)
	}
	// Every recipient is settled; one was refused, so the entry is kept in
	// failed/ for a notice.
	if r := rep.Entries[0]; !r.Failed || len(rep.Failed) != 1 || rep.Failed[0].ID != e.ID {
		t.Fatalf("report %+v, failed %v", r, rep.Failed)
	}
	failed, err := q.Failed()
	if err != nil || len(failed) != 1 || failed[0].Reason != "refused by the server" || len(failed[0].Delivered) != 2 {
		t.Errorf("failed entries %+v, %v", failed, err)
	}
	if list, _ := q.List(); len(list) != 0 {
		t.Errorf("%d entries still queued", len(list))
	}
}

func TestFlushBackoffAndExpiry(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	var log bytes.Buffer
	q.log = NewLogger(&log, Logfmt)
	e := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("b", 10))
	refused := &smtp.StageError{Stage: smtp.StageConnect, Err: errors.New("connection refused")}
	d := &fakeDialer{dialErr: refused}
	want := []time.Duration{5, 10, 20, 40, 80, 120, 120}
	for i, w := range want {
		rep := flush(t, q, d, nil)
		if len(rep.Entries) != 1 || rep.Entries[0].Err != refused {
			t.Fatalf("attempt %d: report %+v", i+1, rep.Entries)
		}
		got, _ := q.Get(e.ID)
		if got.Attempts != i+1 || got.LastError != refused.Error() {
			t.Errorf("attempt %d: %+v", i+1, got)
		}
		if delay := got.NextAttempt.Sub(c.Now()); delay != w*time.Minute {
			t.Errorf("after attempt %d the delay is %v, want %v", i+1, delay, w*time.Minute)
		}
		c.Advance(got.NextAttempt.Sub(c.Now()))
	}
	// Retry until the maximum age; the last try falls exactly on it.
	for {
		got, err := q.Get(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == StateFailed {
			if !c.Now().Equal(got.Created.Add(DefaultRetry.MaxAge)) {
				t.Errorf("given up at %v, want %v", c.Now(), got.Created.Add(DefaultRetry.MaxAge))
			}
			if got.Reason != "not delivered after 5 days" || got.FailedAt != c.Now() {
				t.Errorf("failed entry %+v", got)
			}
			break
		}
		if got.NextAttempt.After(got.Created.Add(DefaultRetry.MaxAge)) {
			t.Fatalf("next attempt %v is past the maximum age", got.NextAttempt)
		}
		c.Advance(got.NextAttempt.Sub(c.Now()))
		rep := flush(t, q, d, nil)
		if len(rep.Entries) != 1 {
			t.Fatalf("a due entry was not tried")
		}
		if rep.Entries[0].Failed && (len(rep.Failed) != 1 || rep.Failed[0].ID != e.ID) {
			t.Errorf("expired entry missing from the report: %v", rep.Failed)
		}
	}
	if !strings.Contains(log.String(), "result=expired") || !strings.Contains(log.String(), `error="connect: connection refused"`) {
		t.Errorf("log lacks the expiry:\n%s", log.String())
	}
}

func TestBackoffJitter(t *testing.T) {
	q := openQueue(t, newClock())
	q.jitter = func() float64 { return 0 }
	if d := q.backoff(1); d != 5*time.Minute*3/4 {
		t.Errorf("backoff with jitter 0 = %v", d)
	}
	q.jitter = func() float64 { return 0.999999 }
	if d := q.backoff(30); d <= 2*time.Hour*5/4-time.Second || d > 2*time.Hour*5/4 {
		t.Errorf("capped backoff with jitter 1 = %v", d)
	}
}

func TestFlushOutcomeUnknown(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	e := enqueue(t, q, testEnvelope("a", "bob@example.org", "dave@example.org"), testMessage("u", 10))
	unknown := &smtp.StageError{Stage: smtp.StageDataEnd, Err: fmt.Errorf("%w: connection reset", smtp.ErrOutcomeUnknown)}
	d := &fakeDialer{respond: func(env *smtp.Envelope, _ []byte) (*smtp.Result, error) {
		res, _ := refuse(env, map[string]int{"dave@example.org": 550})
		return res, unknown
	}}
	rep := flush(t, q, d, nil)
	r := rep.Entries[0]
	if !r.Unknown || r.PossibleDuplicate || r.Recipients[0].Fate != FateDeferred || r.Recipients[1].Fate != FateBounced {
		t.Fatalf("report %+v", r)
	}
	got, _ := q.Get(e.ID)
	if !got.OutcomeUnknown || len(got.Recipients) != 1 || len(got.Refused) != 1 {
		t.Errorf("entry %+v", got)
	}
	c.Advance(time.Hour)
	d.respond = nil
	rep = flush(t, q, d, nil)
	if r := rep.Entries[0]; !r.PossibleDuplicate || !r.Failed || r.Recipients[0].Fate != FateDelivered {
		t.Errorf("the delivery after an unknown outcome: %+v", r)
	}
}

func TestFlushMessageRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		fate Fate
	}{
		{"554 after data", &smtp.StageError{Stage: smtp.StageDataEnd, Err: &smtp.Error{Command: "DATA end", Code: 554, Lines: []string{"spam"}}}, FateBounced},
		{"452 after data", &smtp.StageError{Stage: smtp.StageDataEnd, Err: &smtp.Error{Command: "DATA end", Code: 452, Lines: []string{"full"}}}, FateDeferred},
		{"too large", &smtp.StageError{Stage: smtp.StageMail, Err: smtp.ErrMessageTooLarge}, FateBounced},
		{"protocol", &smtp.StageError{Stage: smtp.StageData, Err: smtp.ErrProtocol}, FateDeferred},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := openQueue(t, newClock())
			e := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("r", 10))
			d := &fakeDialer{respond: func(env *smtp.Envelope, _ []byte) (*smtp.Result, error) {
				return &smtp.Result{Recipients: accept(env).Recipients}, tc.err
			}}
			rep := flush(t, q, d, nil)
			r := rep.Entries[0]
			if r.Recipients[0].Fate != tc.fate || r.Err != tc.err {
				t.Fatalf("fate %v (err %v), want %v", r.Recipients[0].Fate, r.Err, tc.fate)
			}
			got, _ := q.Get(e.ID)
			if want := map[Fate]State{FateBounced: StateFailed, FateDeferred: StateQueued}[tc.fate]; got.State != want {
				t.Errorf("entry is %s, want %s", got.State, want)
			}
		})
	}
}

func TestFlushRedialsAfterBrokenSession(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	first := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("x1", 10))
	c.Advance(time.Second)
	second := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("x2", 10))
	broken := &smtp.StageError{Stage: smtp.StageData, Err: errors.New("sending: connection reset by peer")}
	n := 0
	d := &fakeDialer{respond: func(env *smtp.Envelope, _ []byte) (*smtp.Result, error) {
		n++
		if n == 1 {
			return &smtp.Result{Recipients: accept(env).Recipients}, broken
		}
		return accept(env), nil
	}}
	rep := flush(t, q, d, nil)
	if d.dials["a"] != 2 {
		t.Errorf("%d dials, want a new session after the broken one", d.dials["a"])
	}
	if rep.Entries[0].ID != first.ID || rep.Entries[0].Removed || rep.Entries[1].ID != second.ID || !rep.Entries[1].Removed {
		t.Errorf("report %+v", rep.Entries)
	}
}

func TestFlushIDs(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	a := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("i1", 10))
	b := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("i2", 10))
	d := &fakeDialer{dialErr: errors.New("offline")}
	flush(t, q, d, nil) // both deferred, not due for 5 minutes
	d.dialErr = nil
	if _, err := q.Flush(context.Background(), d, &FlushOptions{IDs: []string{b.ID, "20990101T000000-aaaaaaaa"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Flush of an unknown ID = %v, want ErrNotFound", err)
	}
	if len(d.Sent()) != 0 {
		t.Fatalf("a flush with an unknown ID sent %d messages", len(d.Sent()))
	}
	rep := flush(t, q, d, &FlushOptions{IDs: []string{b.ID}})
	if len(rep.Entries) != 1 || rep.Entries[0].ID != b.ID || !rep.Entries[0].Removed {
		t.Errorf("report %+v", rep.Entries)
	}
	if rep := flush(t, q, d, nil); len(rep.Entries) != 0 {
		t.Errorf("entry %s sent before it was due", a.ID)
	}
	if rep := flush(t, q, d, &FlushOptions{All: true}); len(rep.Entries) != 1 || rep.Entries[0].ID != a.ID {
		t.Errorf("All did not send the entry not due: %+v", rep.Entries)
	}
}

// An entry left with data_sent by a flush that died is resolved from the
// duplicate guard when the server's acceptance was recorded, and flagged
// otherwise.
func TestRecoverInterruptedAttempt(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	withRecord := enqueue(t, q, testEnvelope("a", "bob@example.org", "carol@example.org"), testMessage("d1", 10))
	without := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("d2", 10))
	c.Advance(time.Minute)
	for _, e := range []*Entry{withRecord, without} {
		e.DataSent = c.Now()
		if err := e.save(); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Remember(Acceptance{Entry: withRecord.ID, MessageID: "<d1@test>", Recipients: []string{"bob@example.org"}, ServerID: "S1"}); err != nil {
		t.Fatal(err)
	}
	d := &fakeDialer{}
	rep := flush(t, q, d, nil)
	if len(rep.Recovered) != 2 {
		t.Fatalf("recovered %d entries, want 2", len(rep.Recovered))
	}
	byID := map[string]EntryReport{}
	for _, r := range rep.Entries {
		byID[r.ID] = r
	}
	if r := byID[withRecord.ID]; r.PossibleDuplicate || len(r.Recipients) != 1 || r.Recipients[0].Address != "carol@example.org" {
		t.Errorf("entry with a record: %+v (bob was accepted before the crash)", r)
	}
	if r := byID[without.ID]; !r.PossibleDuplicate || !r.Removed {
		t.Errorf("entry without a record: %+v", r)
	}
	for _, s := range d.Sent() {
		if strings.Contains(string(s.data), "<d1@test>") && len(s.env.Recipients) != 1 {
			t.Errorf("bob got d1 again")
		}
	}
	assertEmpty(t, q)
}

func TestFlushSeenBefore(t *testing.T) {
	q := openQueue(t, newClock())
	// A direct send delivered the message to bob and was remembered; the
	// same message queued again for bob is a possible duplicate, for
	// carol it is not.
	if err := q.Remember(Acceptance{MessageID: "<same@test>", Recipients: []string{"bob@example.org"}}); err != nil {
		t.Fatal(err)
	}
	enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("same", 10))
	enqueue(t, q, testEnvelope("b", "carol@example.org"), testMessage("same", 10))
	rep := flush(t, q, &fakeDialer{}, nil)
	for _, r := range rep.Entries {
		if want := r.Account == "a"; r.PossibleDuplicate != want {
			t.Errorf("account %s: PossibleDuplicate = %v, want %v", r.Account, r.PossibleDuplicate, want)
		}
	}
}

func TestGuardPruned(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	q.Remember(Acceptance{MessageID: "<old@test>", Recipients: []string{"x@example.org"}})
	c.Advance(6 * 24 * time.Hour)
	q.Remember(Acceptance{MessageID: "<new@test>", Recipients: []string{"x@example.org"}})
	c.Advance(2 * 24 * time.Hour)
	flush(t, q, &fakeDialer{}, nil)
	if as, _ := q.Recall("<old@test>"); len(as) != 0 {
		t.Errorf("a record older than the window is kept: %+v", as)
	}
	if as, _ := q.Recall("<new@test>"); len(as) != 1 {
		t.Errorf("a record within the window is lost: %+v", as)
	}
}

// Entries left by a process that died in tmp/ are removed once stale; an
// entry given up on but not yet moved is moved.
func TestRecoverCleansUp(t *testing.T) {
	c := newClock()
	q := openQueue(t, c)
	s, err := q.NewSpool()
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]byte("abandoned"))
	e := enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage("f", 10))
	e.FailedAt = c.Now()
	e.Reason = "test"
	if err := e.save(); err != nil {
		t.Fatal(err)
	}
	flush(t, q, &fakeDialer{}, nil)
	if got, _ := q.Get(e.ID); got.State != StateFailed {
		t.Errorf("entry with failed_at is %s, want failed", got.State)
	}
	if des, _ := readDirNames(q, "tmp"); len(des) != 1 {
		t.Errorf("a fresh spool was removed: %v", des)
	}
	c.t = time.Now().Add(37 * time.Hour)
	flush(t, q, &fakeDialer{}, nil)
	if des, _ := readDirNames(q, "tmp"); len(des) != 0 {
		t.Errorf("a stale spool was kept: %v", des)
	}
}
