package integration

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// transfers are the two ways outbox sends a message to Postfix: BDAT
// (CHUNKING, the default when offered) and DATA with dot-stuffing (forced
// with the hidden --no-chunking flag).
var transfers = []struct {
	name  string
	flags []string
	verb  string // the command that carries the message
}{
	{"bdat", nil, "BDAT "},
	{"data", []string{"--no-chunking"}, "DATA"},
}

// TestDeliveredBytes sends messages whose bytes are easy to get wrong and
// checks that what Postfix delivered is exactly what was sent, through BDAT
// and through DATA.
func TestDeliveredBytes(t *testing.T) {
	e := need(t)
	long := strings.Repeat("0123456789", 99) + "01234567" // 998 octets
	cases := []struct {
		name    string
		rcpt    string
		maildir string
		header  []string
		body    []string
		mail    []string // parameters MAIL FROM must carry
		with    string   // the protocol in Postfix's Received field
	}{{
		name:    "dots",
		rcpt:    e.User2,
		maildir: e.User2Maildir,
		header:  []string{"From: " + e.User, "To: " + e.User2, "Subject: dots"},
		// A lone "." line in the middle and as the very last line: the
		// body must never end the data early or smuggle an end of data.
		body: []string{".leading dot", "..two dots", ".", "...", ". space", "", ".", "middle", "."},
		with: "ESMTPSA",
	}, {
		name:    "8bit-utf8-body",
		rcpt:    e.User2,
		maildir: e.User2Maildir,
		header: []string{"From: " + e.User, "To: " + e.User2, "Subject: 8bit",
			"MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"},
		body: []string{"Grüße aus Köln — 日本語 — €uro", "\u00a0non-breaking space, ÿ, and a tab:\tend", ".ünïcode after a dot"},
		mail: []string{"BODY=8BITMIME"},
		with: "ESMTPSA",
	}, {
		name:    "smtputf8-address",
		rcpt:    e.UTF8Addr,
		maildir: e.UTF8Maildir,
		header: []string{"From: Alice <" + e.User + ">", "To: Jörg <" + e.UTF8Addr + ">", "Subject: Grüße an Jörg",
			"MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"},
		body: []string{"Hallo Jörg,", "eine Nachricht an eine UTF-8-Adresse."},
		mail: []string{"SMTPUTF8"},
		with: "UTF8SMTPSA",
	}, {
		name:    "998-octet-lines",
		rcpt:    e.User2,
		maildir: e.User2Maildir,
		header:  []string{"From: " + e.User, "To: " + e.User2, "Subject: long lines"},
		// The dotted one grows to 999 octets on the wire with DATA.
		body: []string{long, "." + long[1:], "short", long},
		with: "ESMTPSA",
	}}
	for _, tc := range cases {
		for _, tr := range transfers {
			t.Run(tc.name+"/"+tr.name, func(t *testing.T) {
				t.Parallel()
				mark := newMark(t)
				sent := msg(mark, tc.header, tc.body...)
				args := append([]string{"--json", "-v"}, tr.flags...)
				r := runOutbox(t, invocation{
					args:  e.sendArgs(e.Submission, "starttls", e.alice(), append(args, tc.rcpt)...),
					env:   sendEnv(e.alice()),
					stdin: sent,
				})
				r.wantExit(t, 0)
				trs := parseTranscript(r.stderr)
				mail, ok := trs.sentAny("MAIL FROM:")
				if !ok {
					t.Fatalf("no MAIL FROM in the transcript\n%s", r.stderr)
				}
				for _, p := range tc.mail {
					if !slices.Contains(strings.Fields(mail), p) {
						t.Fatalf("MAIL FROM lacks %s: %q", p, mail)
					}
				}
				if rcpt, _ := trs.sentAny("RCPT TO:"); rcpt != "RCPT TO:<"+tc.rcpt+">" {
					t.Fatalf("RCPT line %q, want RCPT TO:<%s>", rcpt, tc.rcpt)
				}
				if _, ok := trs.sentAny(tr.verb); !ok {
					t.Fatalf("no %s in the transcript\n%s", tr.verb, r.stderr)
				}
				hs := checkDelivered(t, waitDelivered(t, tc.maildir, mark), sent)
				o := parseOutcome(t, r)
				if with, id := receivedBy(t, hs); with != tc.with || id != o.QueueID {
					t.Fatalf("Received field says with %s id %s, want with %s id %s", with, id, tc.with, o.QueueID)
				}
			})
		}
	}
}

// TestBccStrippedWithT sends with -t: the recipients come from To, Cc and
// a folded Bcc, every one of them gets the message, and nobody's copy shows
// the Bcc field; the rest is delivered unchanged.
func TestBccStrippedWithT(t *testing.T) {
	e := need(t)
	mark := newMark(t)
	keep := []string{"From: " + e.User, "To: Alice <" + e.User + ">", "Cc: " + e.User2, "Subject: Bcc with -t"}
	bcc := []string{"Bcc: Postmaster <postmaster@" + e.Domain + ">,", "\t" + e.UTF8Addr}
	header := append(append(append([]string{}, keep[:2]...), bcc...), keep[2:]...)
	sent := msg(mark, header, "the Bcc recipients must stay hidden")
	want := msg(mark, keep, "the Bcc recipients must stay hidden")
	r := runOutbox(t, invocation{
		args:  e.sendArgs(e.Submission, "starttls", e.alice(), "-t", "--json", "-v"),
		env:   sendEnv(e.alice()),
		stdin: sent,
	})
	r.wantExit(t, 0)
	o := parseOutcome(t, r)
	var got []string
	for _, rc := range o.Recipients {
		if !rc.Accepted {
			t.Fatalf("recipient %s refused: %d %s", rc.Address, rc.Code, rc.Message)
		}
		got = append(got, rc.Address)
	}
	wantRcpts := []string{e.User, e.User2, "postmaster@" + e.Domain, e.UTF8Addr}
	slices.Sort(got)
	slices.Sort(wantRcpts)
	if !slices.Equal(got, wantRcpts) {
		t.Fatalf("recipients %v, want %v", got, wantRcpts)
	}
	for _, md := range []string{e.UserMaildir, e.User2Maildir, e.PostmasterMaildir, e.UTF8Maildir} {
		checkDelivered(t, waitDelivered(t, md, mark), want)
	}
}

// TestLargeMessage sends a 50 MiB message from a file (so outbox knows its
// size and declares SIZE=) through BDAT in several chunks and through
// DATA, and compares the delivered bytes.
func TestLargeMessage(t *testing.T) {
	e := need(t)
	for _, tr := range transfers {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			mark := newMark(t)
			path := filepath.Join(t.TempDir(), "large.eml")
			sent := largeMessage(t, path, mark, e)
			args := append([]string{"--json", "-v", "--file", path}, tr.flags...)
			r := runOutbox(t, invocation{
				args: e.sendArgs(e.Submission, "starttls", e.alice(), append(args, e.User2)...),
				env:  sendEnv(e.alice()),
			})
			r.wantExit(t, 0)
			trs := parseTranscript(r.stderr)
			mail, _ := trs.sentAny("MAIL FROM:")
			if !slices.Contains(strings.Fields(mail), "SIZE="+strconv.Itoa(len(sent))) {
				t.Fatalf("MAIL FROM %q does not declare SIZE=%d", mail, len(sent))
			}
			o := parseOutcome(t, r)
			counts := sessionCommands(t, logSession(t, o.QueueID))
			if tr.name == "bdat" {
				// Every octet goes in BDAT chunks, the last one marked LAST.
				var chunks, total int
				last := ""
				for _, l := range trs.client() {
					if n, ok := strings.CutPrefix(l, "BDAT "); ok {
						chunks++
						size, err := strconv.Atoi(strings.TrimSuffix(n, " LAST"))
						if err != nil {
							t.Fatalf("bad BDAT line %q", l)
						}
						total += size
						last = l
					}
				}
				if chunks < 2 || !strings.HasSuffix(last, " LAST") || total != len(sent) {
					t.Fatalf("%d BDAT chunks, %d octets, last %q; want several chunks carrying %d octets, the last marked LAST", chunks, total, last, len(sent))
				}
				if counts["bdat"] != strconv.Itoa(chunks) || counts["data"] != "" {
					t.Fatalf("Postfix counted %v; want bdat=%d and no data", counts, chunks)
				}
			} else if counts["data"] != "1" || counts["bdat"] != "" {
				t.Fatalf("Postfix counted %v; want data=1 and no bdat", counts)
			}
			checkDelivered(t, waitDelivered(t, e.User2Maildir, mark), sent)
		})
	}
}

// largeMessage writes a message of 50 MiB to path and returns its bytes.
func largeMessage(t *testing.T, path, mark string, e *mailEnv) []byte {
	t.Helper()
	var b bytes.Buffer
	body := largeBody()
	b.Grow(len(body) + 1024)
	b.Write(msg(mark, []string{"From: " + e.User, "To: " + e.User2, "Subject: 50 MiB"}))
	b.Write(body)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// largeBody is 50 MiB of lines of varied length (up to 998 octets), some
// starting with a dot and some a lone dot, the same in every run.
var largeBody = sync.OnceValue(func() []byte {
	const size = 50 << 20
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +/=-_"
	rng := rand.New(rand.NewPCG(1, 2))
	// A pool of distinct lines, then lines drawn from it: fast enough
	// under the race detector.
	pool := make([][]byte, 4096)
	for i := range pool {
		n := rng.IntN(200)
		switch {
		case i%50 == 0:
			n = 998
		case i%100 == 1:
			pool[i] = []byte(".")
			continue
		}
		line := make([]byte, n)
		for j := range line {
			line[j] = alphabet[rng.IntN(len(alphabet))]
		}
		if n > 0 && i%20 == 2 {
			line[0] = '.'
		}
		pool[i] = line
	}
	var b bytes.Buffer
	b.Grow(size + 1024)
	for b.Len() < size {
		b.Write(pool[rng.IntN(len(pool))])
		b.WriteString("\r\n")
	}
	return b.Bytes()
})
