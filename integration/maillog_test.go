package integration

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Lines of Postfix's log (OUTBOX_IT_MAILLOG): cleanup names the queue id
// of each Message-ID; smtpd names the client of each queue id.
var (
	cleanupRe = regexp.MustCompile(`postfix/cleanup\[\d+\]: ([0-9A-Za-z]+): message-id=<([^>]*)>`)
	clientRe  = regexp.MustCompile(`(postfix/[a-z]+/smtpd\[\d+\]): ([0-9A-Za-z]+): client=`)
)

// waitLog polls Postfix's log until match finds what it looks for in the
// lines so far.
func waitLog[T any](t *testing.T, what string, match func(lines []string) (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		b, err := os.ReadFile(servers.MailLog)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := match(strings.Split(string(b), "\n")); ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix's log (%s) shows no %s within %v", servers.MailLog, what, waitLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logQueueID is the queue id Postfix's cleanup logged for Message-ID <mark>.
func logQueueID(t *testing.T, mark string) string {
	t.Helper()
	return waitLog(t, "message-id=<"+mark+">", func(lines []string) (string, bool) {
		var ids []string
		for _, l := range lines {
			if m := cleanupRe.FindStringSubmatch(l); m != nil && m[2] == mark {
				ids = append(ids, m[1])
			}
		}
		if len(ids) > 1 {
			t.Fatalf("Postfix queued <%s> %d times: %v", mark, len(ids), ids)
		}
		if len(ids) == 1 {
			return ids[0], true
		}
		return "", false
	})
}

// logSession returns the log lines of the smtpd session that received
// queue id qid: from its "qid: client=" line to its "disconnect from" line.
func logSession(t *testing.T, qid string) []string {
	t.Helper()
	return waitLog(t, "disconnect line of the session of "+qid, func(lines []string) ([]string, bool) {
		start, proc := -1, ""
		for i, l := range lines {
			if m := clientRe.FindStringSubmatch(l); m != nil && m[2] == qid {
				start, proc = i, m[1]
				break
			}
		}
		if start < 0 {
			return nil, false
		}
		// The same smtpd process logs the session's earlier lines
		// (connect, STARTTLS) before the client= line; take them too.
		first := start
		for i := start - 1; i >= 0; i-- {
			if strings.Contains(lines[i], proc+": ") {
				if strings.Contains(lines[i], "disconnect from") {
					break
				}
				first = i
			}
		}
		var out []string
		for i := first; i < len(lines); i++ {
			if !strings.Contains(lines[i], proc+": ") {
				continue
			}
			out = append(out, lines[i])
			if i > start && strings.Contains(lines[i], "disconnect from") {
				return out, true
			}
		}
		return nil, false
	})
}

// sessionCommands parses the "disconnect from" line of a session into its
// command counts: "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 bdat=1 quit=1".
func sessionCommands(t *testing.T, session []string) map[string]string {
	t.Helper()
	last := session[len(session)-1]
	i := strings.Index(last, "disconnect from ")
	if i < 0 {
		t.Fatalf("no disconnect line in the session:\n%s", strings.Join(session, "\n"))
	}
	counts := map[string]string{}
	for _, f := range strings.Fields(last[i:])[3:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			counts[k] = v
		}
	}
	return counts
}
