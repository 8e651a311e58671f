package message

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// benchSubmission is the header of a typical message handed to outbox send:
// a few fields, one folded, one encoded word.
const benchSubmission = "From: \"Jane Doe\" <jane@example.org>\n" +
	"To: John Roe <john@example.net>, ops@example.com\n" +
	"Cc: \"Doe, Jane\" <jane.doe@example.org>\n" +
	"Bcc: audit@example.org\n" +
	"Subject: =?UTF-8?Q?Rapport_trimestriel_=E2=80=94_r=C3=A9sum=C3=A9?=\n" +
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\n" +
	"Message-ID: <20240101000000.1234@example.org>\n" +
	"MIME-Version: 1.0\n" +
	"Content-Type: text/plain; charset=utf-8;\n\tformat=flowed\n" +
	"\n"

// BenchmarkHeaderSubmission is the per-message header work of outbox send
// -t: scan the header, take the recipients, strip Bcc and write the header
// out (with the body reader in front of an empty body).
func BenchmarkHeaderSubmission(b *testing.B) {
	b.SetBytes(int64(len(benchSubmission)))
	b.ReportAllocs()
	sr := strings.NewReader(benchSubmission)
	br := bufio.NewReader(sr)
	for b.Loop() {
		sr.Reset(benchSubmission)
		br.Reset(sr)
		h, err := ReadHeader(br)
		if err != nil {
			b.Fatal(err)
		}
		rcpts, err := h.Recipients(nil)
		if err != nil || len(rcpts) != 4 {
			b.Fatal(rcpts, err)
		}
		if err := (Prepare{StripBcc: true}).Apply(h); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, NewReader(h, br)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeaderScanLong is the header scan alone over a header of 200
// fields (a message that went through many hops), where the cost per field
// shows.
func BenchmarkHeaderScanLong(b *testing.B) {
	header := strings.Repeat("Received: from a.example.org (a.example.org [192.0.2.1])\n\tby b.example.org with ESMTPS id 1234;\n\tMon, 1 Jan 2024 00:00:00 +0000\n", 200) +
		"From: a@example.org\nTo: b@example.org\nSubject: x\n\n"
	b.SetBytes(int64(len(header)))
	b.ReportAllocs()
	sr := strings.NewReader(header)
	br := bufio.NewReader(sr)
	for b.Loop() {
		sr.Reset(header)
		br.Reset(sr)
		h, err := ReadHeader(br)
		if err != nil {
			b.Fatal(err)
		}
		if h.Get("Subject") != "x" {
			b.Fatal("no Subject")
		}
	}
}
