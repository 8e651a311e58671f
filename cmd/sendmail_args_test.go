package cmd

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSendmailArgs(t *testing.T) {
	cases := []struct {
		name string
		args string
		want sendmailArgs
	}{
		{"debian cron", "-FCronDaemon -i -B8BITMIME -oem root",
			sendmailArgs{FullName: "CronDaemon", IgnoreDots: true, Body: "8BITMIME", Recipients: []string{"root"}, Ignored: []string{"-oem"}}},
		{"cronie", "-FCronDaemon -i -odi -oem -oi -t -f cron@example.org",
			sendmailArgs{FullName: "CronDaemon", IgnoreDots: true, ReadRecipients: true, From: "cron@example.org", Ignored: []string{"-odi", "-oem"}}},
		{"mutt", "-oem -oi -B8BITMIME -f me@example.org -- a@example.org b@example.org",
			sendmailArgs{IgnoreDots: true, Body: "8BITMIME", From: "me@example.org", Recipients: []string{"a@example.org", "b@example.org"}, Ignored: []string{"-oem"}}},
		{"git send-email", "-i -f me@example.org a@example.org",
			sendmailArgs{IgnoreDots: true, From: "me@example.org", Recipients: []string{"a@example.org"}}},
		{"php mail", "-t -i", sendmailArgs{ReadRecipients: true, IgnoreDots: true}},
		{"grouped", "-ti", sendmailArgs{ReadRecipients: true, IgnoreDots: true}},
		{"attached from", "-fme@example.org -rother@example.org", sendmailArgs{From: "other@example.org"}},
		{"dsn", "-N success,failure -R hdrs -V env123 x@example.org",
			sendmailArgs{DSNNotify: "success,failure", DSNReturn: "hdrs", DSNEnvID: "env123", Recipients: []string{"x@example.org"}}},
		{"option after recipient", "x@example.org -f me@example.org", sendmailArgs{From: "me@example.org", Recipients: []string{"x@example.org"}}},
		{"print queue", "-bp", sendmailArgs{Mode: modePrintQueue}},
		{"smtp stdio", "-bs", sendmailArgs{Mode: modeSMTPStdio}},
		{"flush", "-q", sendmailArgs{Mode: modeFlushQueue}},
		{"flush interval", "-q30m", sendmailArgs{Mode: modeFlushQueue, QueueArg: "30m"}},
		{"ignored", "-L tag -h 5 -m -n -G -U -Am -Ac -O DeliveryMode=b -bm x@example.org",
			sendmailArgs{Recipients: []string{"x@example.org"}, Ignored: []string{"-Ltag", "-h5", "-m", "-n", "-G", "-U", "-Am", "-Ac", "-ODeliveryMode=b"}}},
		{"verbose and config", "-v -v -C /etc/outbox/other.toml x@example.org", sendmailArgs{Verbose: 2, Config: "/etc/outbox/other.toml", Recipients: []string{"x@example.org"}}},
		{"dash recipient after --", "-- -odd@example.org", sendmailArgs{Recipients: []string{"-odd@example.org"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSendmailArgs(strings.Fields(tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseSendmailArgsErrors(t *testing.T) {
	for _, args := range []string{"-f", "-B 9BIT", "-bd", "-bi", "-Z", "-t -k"} {
		_, err := parseSendmailArgs(strings.Fields(args))
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: got %v, want a usage error", args, err)
		}
	}
}
