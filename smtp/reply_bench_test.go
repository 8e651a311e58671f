package smtp

import (
	"bufio"
	"testing"
)

// cycle is an endless reader of the same bytes, so the reply reader is
// measured without allocation from the source.
type cycle struct {
	b []byte
	i int
}

func (c *cycle) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.b[c.i:])
		n += k
		c.i = (c.i + k) % len(c.b)
	}
	return n, nil
}

func benchReplies(b *testing.B, wire string, perRound int, enhanced bool) {
	rr := NewReplyReader(bufio.NewReaderSize(&cycle{b: []byte(wire)}, 4096), ReplyLimits{}, enhanced)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		for range perRound {
			if _, err := rr.ReadReply(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkReplyReaderSingle is one one-line reply with an enhanced code,
// the reply to MAIL, RCPT and the end of data.
func BenchmarkReplyReaderSingle(b *testing.B) {
	benchReplies(b, "250 2.1.5 Ok\r\n", 1, true)
}

// BenchmarkReplyReaderPipelined is the group of replies to a pipelined
// transaction: MAIL, two RCPTs, BDAT LAST and QUIT.
func BenchmarkReplyReaderPipelined(b *testing.B) {
	benchReplies(b, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 Ok: queued as 4XyZ1k2p3Qz9\r\n221 2.0.0 Bye\r\n", 5, true)
}

const benchEHLO = "250-mail.example.org Hello client.example.net [192.0.2.1]\r\n" +
	"250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n" +
	"250-AUTH PLAIN LOGIN SCRAM-SHA-256 XOAUTH2\r\n250-CHUNKING\r\n250-BINARYMIME\r\n" +
	"250-DSN\r\n250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250 REQUIRETLS\r\n"

// BenchmarkReplyReaderEHLO is a twelve-line EHLO reply, read and parsed
// into extensions.
func BenchmarkReplyReaderEHLO(b *testing.B) {
	rr := NewReplyReader(bufio.NewReaderSize(&cycle{b: []byte(benchEHLO)}, 4096), ReplyLimits{}, false)
	b.SetBytes(int64(len(benchEHLO)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := rr.ReadReply()
		if err != nil {
			b.Fatal(err)
		}
		if ext := ParseEHLO(rep.Lines); !ext.Has(ExtChunking) {
			b.Fatal("CHUNKING not found")
		}
	}
}
