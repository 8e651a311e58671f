package queue

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func TestLoggerFormats(t *testing.T) {
	r := LogRecord{
		Time:    time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Account: "work", Entry: "20250301T120000-abcdefgh", MessageID: "<x@y>", Size: 42,
		Recipients: []string{"a@example.org", "b@example.org"}, Result: "deferred",
		Error: "RCPT TO:<a@example.org> rejected: 451 try \"later\"\nnext", PossibleDuplicate: true,
	}
	var b bytes.Buffer
	if err := NewLogger(&b, Logfmt).Log(r); err != nil {
		t.Fatal(err)
	}
	want := `time=2025-03-01T12:00:00Z account=work entry=20250301T120000-abcdefgh message_id=<x@y> size=42 recipients=a@example.org,b@example.org result=deferred error="RCPT TO:<a@example.org> rejected: 451 try \"later\"\nnext" possible_duplicate=true` + "\n"
	if b.String() != want {
		t.Errorf("logfmt:\n got %s\nwant %s", b.String(), want)
	}
	b.Reset()
	if err := NewLogger(&b, JSONLines).Log(r); err != nil {
		t.Fatal(err)
	}
	var back LogRecord
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Error != r.Error || !back.PossibleDuplicate || back.Size != 42 || len(back.Recipients) != 2 || bytes.Count(b.Bytes(), []byte("\n")) != 1 {
		t.Errorf("JSON line %s", b.String())
	}
	var nilLogger *Logger
	if err := nilLogger.Log(r); err != nil {
		t.Errorf("a nil Logger returned %v", err)
	}
}
