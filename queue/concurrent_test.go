package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// Two flushes and two producers at once, in one process with a Queue (and
// so a lock file description) each, as separate processes would have:
// every message is delivered exactly once.
func TestConcurrentFlushAndEnqueue(t *testing.T) {
	s, addr := startSink(t)
	dir := t.TempDir()
	open := func() *Queue {
		q, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	var producers, flushers sync.WaitGroup
	var stop atomic.Bool
	var ids sync.Map
	for p := range 2 {
		q := open()
		producers.Go(func() {
			for i := range 25 {
				id := fmt.Sprintf("q%d-%d", p, i)
				ids.Store(id, true)
				enqueue(t, q, testEnvelope("a", "bob@example.org"), testMessage(id, 5000))
			}
		})
	}
	for range 2 {
		q := open()
		flushers.Go(func() {
			for !stop.Load() {
				_, err := q.Flush(context.Background(), &sinkDialer{addr: addr}, &FlushOptions{All: true})
				if err != nil && !errors.Is(err, ErrBusy) {
					t.Error(err)
					return
				}
			}
		})
	}
	producers.Wait()
	stop.Store(true)
	flushers.Wait()
	q := open()
	if _, err := q.Flush(context.Background(), &sinkDialer{addr: addr}, &FlushOptions{All: true, Wait: true}); err != nil {
		t.Fatal(err)
	}
	drain(t, s)
	got := deliveries(s)
	n := 0
	ids.Range(func(k, _ any) bool {
		n++
		if c := got["<"+k.(string)+"@test> bob@example.org"]; c != 1 {
			t.Errorf("%s delivered %d times, want once", k, c)
		}
		return true
	})
	if n != 50 || len(got) != 50 {
		t.Errorf("%d messages queued, %d delivered; want 50", n, len(got))
	}
	assertEmpty(t, q)
}
