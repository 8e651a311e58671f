package message

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRecipients(t *testing.T) {
	q := &Qualifier{
		Domain: "example.net",
		Aliases: map[string][]string{
			"root": {"admin@example.org"},
			"team": {"alice@example.org", "bob"},
		},
	}
	for _, tc := range []struct {
		name, header string
		q            *Qualifier
		want         []string
	}{{
		name:   "to cc bcc in order",
		header: "To: a@example.org\nCc: c@example.org\nBcc: b@example.org\nFrom: f@example.org\n",
		want:   []string{"a@example.org", "c@example.org", "b@example.org"},
	}, {
		name:   "several fields and lists, folded",
		header: "To: a@example.org,\n b@example.org\nCc: <c@example.org>, d@example.org (Dee)\nto: e@example.org\n",
		want:   []string{"a@example.org", "b@example.org", "c@example.org", "d@example.org", "e@example.org"},
	}, {
		name:   "display names with commas and quotes",
		header: "To: \"Doe, Jane\" <jane@example.org>, \"O'Brien \\\"Bob\\\", Jr\" <bob@example.org>\n",
		want:   []string{"jane@example.org", "bob@example.org"},
	}, {
		name:   "comments with commas",
		header: "To: jane@example.org (Doe, Jane), (x, y) bob@example.org\n",
		want:   []string{"jane@example.org", "bob@example.org"},
	}, {
		name:   "UTF-8 names and addresses",
		header: "To: Jörg Müller <joerg@example.org>, 用户 <用户@例子.广告>\nCc: =?utf-8?q?J=C3=B6rg?= <j2@example.org>\n",
		want:   []string{"joerg@example.org", "用户@例子.广告", "j2@example.org"},
	}, {
		name:   "unknown charset in a name",
		header: "To: =?koi8-r?q?=E1=C2?= <k@example.org>\n",
		want:   []string{"k@example.org"},
	}, {
		name:   "groups",
		header: "To: undisclosed-recipients:;\nCc: Team: a@example.org, \"B, b\" <b@example.org>;, c@example.org\n",
		want:   []string{"a@example.org", "b@example.org", "c@example.org"},
	}, {
		name:   "empty elements",
		header: "To: , a@example.org,,  ,b@example.org,\n",
		want:   []string{"a@example.org", "b@example.org"},
	}, {
		name:   "source route dropped",
		header: "To: Jane <@relay.example:jane@example.org>\n",
		want:   []string{"jane@example.org"},
	}, {
		name:   "deduplicated, domain case ignored, local part case kept",
		header: "To: a@example.org, A@example.org\nCc: a@EXAMPLE.org\nBcc: <a@example.org>\n",
		want:   []string{"a@example.org", "A@example.org"},
	}, {
		name: "resent block wins",
		header: "Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\nResent-From: r@example.org\n" +
			"Resent-To: new@example.org\nResent-Cc: cc@example.org\nResent-Bcc: hidden@example.org\n" +
			"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\n" +
			"To: old@example.org\nCc: oldcc@example.org\n",
		want: []string{"new@example.org", "cc@example.org", "hidden@example.org"},
	}, {
		name: "only the first resent block",
		header: "Received: from z by y; Tue, 2 Jan 2024 00:00:00 +0000\n" +
			"Resent-Date: Tue, 2 Jan 2024 00:00:00 +0000\nResent-To: newest@example.org\n" +
			"Resent-Date: Mon, 1 Jan 2024 00:00:00 +0000\nResent-To: older@example.org\n" +
			"Received: from x by y; Mon, 1 Jan 2024 00:00:00 +0000\n" +
			"Resent-Date: Sun, 31 Dec 2023 00:00:00 +0000\nResent-To: oldest@example.org\n" +
			"To: original@example.org\n",
		want: []string{"newest@example.org"},
	}, {
		name:   "resent block without destinations",
		header: "Resent-From: r@example.org\nResent-Date: Mon, 1 Jan 2024 00:00:00 +0000\nTo: original@example.org\n",
		want:   nil,
	}, {
		name:   "cron: bare root qualified by alias",
		header: "From: root (Cron Daemon)\nTo: root\n",
		q:      q,
		want:   []string{"admin@example.org"},
	}, {
		name:   "bare names: alias, nested alias, domain",
		header: "To: Cron Daemon <root>, team\nCc: carol, \"Dave D\" <dave>\n",
		q:      q,
		want:   []string{"admin@example.org", "alice@example.org", "bob@example.net", "carol@example.net", "dave@example.net"},
	}, {
		name:   "bare name qualified by domain only",
		header: "To: root\n",
		q:      &Qualifier{Domain: "host.example.com"},
		want:   []string{"root@host.example.com"},
	}, {
		name:   "qualified addresses ignore aliases",
		header: "To: root@example.com\n",
		q:      q,
		want:   []string{"root@example.com"},
	}, {
		name:   "none",
		header: "Subject: no recipients\n",
		want:   nil,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := readHeader(t, tc.header+"\n")
			got, err := h.Recipients(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("Recipients = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRecipientsErrors(t *testing.T) {
	for _, tc := range []struct {
		header string
		q      *Qualifier
		want   error
	}{
		{"To: root\n", nil, ErrUnqualified},
		{"To: root\n", &Qualifier{Aliases: map[string][]string{"other": {"x@example.org"}}}, ErrUnqualified},
		{"To: jane@example.org>\n", nil, ErrBadAddress},
		{"To: <jane@example.org\n", nil, ErrBadAddress},
		{"To: two words@example.org\n", nil, ErrBadAddress},
		{"To: a@b@c\n", nil, ErrBadAddress},
		{"To: prog\n", &Qualifier{Aliases: map[string][]string{"prog": {"|/usr/bin/procmail"}}}, ErrBadAliases},
	} {
		h, _ := readHeader(t, tc.header+"\n")
		_, err := h.Recipients(tc.q)
		if !errors.Is(err, tc.want) {
			t.Errorf("%q: err = %v, want %v", tc.header, err, tc.want)
		}
	}
}

func TestAddresses(t *testing.T) {
	h, _ := readHeader(t, "From: \"Doe, Jane\" <jane@example.org>\n"+
		"Sender: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>\n"+
		"Reply-To: Grüße <gruss@example.org>\n"+
		"To: Cron Daemon <root>\n\n")
	q := &Qualifier{Domain: "example.net"}
	for _, tc := range []struct{ field, name, addr string }{
		{"From", "Doe, Jane", "jane@example.org"},
		{"Sender", "Jörg", "joerg@example.org"},
		{"Reply-To", "Grüße", "gruss@example.org"},
		{"To", "Cron Daemon", "root@example.net"},
	} {
		list, err := h.Addresses(tc.field, q)
		if err != nil {
			t.Fatalf("%s: %v", tc.field, err)
		}
		if len(list) != 1 || list[0].Name != tc.name || list[0].Address != tc.addr {
			t.Errorf("%s = %v, want %q <%s>", tc.field, list, tc.name, tc.addr)
		}
	}
	if list, err := h.Addresses("Cc", q); err != nil || len(list) != 0 {
		t.Errorf("Cc = %v, %v", list, err)
	}
}

func TestQualify(t *testing.T) {
	q := &Qualifier{
		Domain: "example.net",
		Aliases: map[string][]string{
			"root":       {"postmaster"},
			"postmaster": {"admin@example.org", "root"},
			"loop1":      {"loop2"},
			"loop2":      {"loop1", "end@example.org"},
			"default":    {"catchall@example.org"},
		},
	}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"jane@example.org", []string{"jane@example.org"}},
		{"ROOT", []string{"admin@example.org", "root@example.net"}},
		{"loop1", []string{"loop1@example.net", "end@example.org"}},
		{"someone", []string{"catchall@example.org"}},
	} {
		got, err := q.Qualify(tc.in)
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("Qualify(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	var nilQ *Qualifier
	if got, err := nilQ.Qualify("a@example.org"); err != nil || len(got) != 1 {
		t.Errorf("nil Qualify(address) = %q, %v", got, err)
	}
	if _, err := nilQ.Qualify("root"); !errors.Is(err, ErrUnqualified) {
		t.Errorf("nil Qualify(root) err = %v", err)
	}
}

func TestParseAliases(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "aliases")
	content := "# system aliases\n" +
		"Root: admin@example.org\n" +
		"\n" +
		"team: alice@example.org, \"Doe, Jane\" <jane@example.org>,\n" +
		"\tbob\n" +
		"  , <carol@example.org>\r\n" +
		"mailer-daemon: postmaster\n" +
		"prog: |/usr/bin/procmail\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	aliases, err := LoadAliases(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"root":          "admin@example.org",
		"team":          "alice@example.org jane@example.org bob carol@example.org",
		"mailer-daemon": "postmaster",
		"prog":          "|/usr/bin/procmail",
	}
	if len(aliases) != len(want) {
		t.Errorf("aliases = %q", aliases)
	}
	for k, v := range want {
		if got := strings.Join(aliases[k], " "); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	for _, bad := range []string{
		"  leading continuation\n",
		"no colon here\n",
		": no name\n",
		"root: a@example.org\nROOT: b@example.org\n",
		"empty:\n",
		"two words: a@example.org\n",
		"bad: a@b@c\n",
	} {
		if _, err := ParseAliases(strings.NewReader(bad)); !errors.Is(err, ErrBadAliases) {
			t.Errorf("ParseAliases(%q) err = %v, want ErrBadAliases", bad, err)
		}
	}
	if _, err := LoadAliases(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
}
