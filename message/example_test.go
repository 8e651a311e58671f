package message_test

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"mime"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/message"
)

// The sendmail -t path: read the header, find the recipients, remove Bcc,
// add what is missing, and hand header and body to the SMTP client as one
// stream.
func Example() {
	input := "From: root (Cron Daemon)\n" +
		"To: root, \"Doe, Jane\" <jane@example.org>\n" +
		"Bcc: audit@example.org\n" +
		"Subject: cron output\n" +
		"\n" +
		"backup done\n"
	q := &message.Qualifier{
		Domain:  "host.example.net",
		Aliases: map[string][]string{"root": {"admin@example.org"}},
	}

	br := bufio.NewReader(strings.NewReader(input))
	h, err := message.ReadHeader(br)
	if err != nil {
		log.Fatal(err)
	}
	rcpts, err := h.Recipients(q)
	if err != nil {
		log.Fatal(err)
	}
	from, err := h.Addresses("From", &message.Qualifier{Domain: q.Domain})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("MAIL FROM:", from[0].Address)
	fmt.Println("RCPT TO:", rcpts)

	p := message.Prepare{
		StripBcc: true,
		AddDate:  true,
		Now:      func() time.Time { return time.Date(2024, 3, 1, 4, 0, 0, 0, time.UTC) },
	}
	if err := p.Apply(h); err != nil {
		log.Fatal(err)
	}
	msg := message.NewReader(h, br) // this is what the smtp client reads
	out, _ := io.ReadAll(msg)
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// MAIL FROM: root@host.example.net
	// RCPT TO: [admin@example.org jane@example.org audit@example.org]
	// From: root (Cron Daemon)
	// To: root, "Doe, Jane" <jane@example.org>
	// Subject: cron output
	// Date: Fri, 01 Mar 2024 04:00:00 +0000
	//
	// backup done
}

func ExampleDotTerminated() {
	// Without -i, sendmail stops reading at a line holding only ".".
	in := strings.NewReader("Subject: hi\n\nfirst\n..not the end\n.\nnever read\n")
	out, _ := io.ReadAll(message.DotTerminated(in))
	fmt.Printf("%q\n", out)
	// Output: "Subject: hi\n\nfirst\n..not the end\n"
}

func ExampleParseAliases() {
	aliases, err := message.ParseAliases(strings.NewReader(`# /etc/aliases style
root: admin@example.org
team: alice@example.org,
      bob
`))
	if err != nil {
		log.Fatal(err)
	}
	q := &message.Qualifier{Domain: "example.net", Aliases: aliases}
	for _, name := range []string{"root", "team", "carol", "dave@example.com"} {
		addrs, _ := q.Qualify(name)
		fmt.Println(name, "→", addrs)
	}
	// Output:
	// root → [admin@example.org]
	// team → [alice@example.org bob@example.net]
	// carol → [carol@example.net]
	// dave@example.com → [dave@example.com]
}

func ExampleParseField() {
	for _, arg := range []string{"X-Ticket: 1234", "X-Evil: x\r\nBcc: victim@example.org"} {
		name, value, err := message.ParseField(arg)
		fmt.Printf("%q %q %v\n", name, value, err)
	}
	// Output:
	// "X-Ticket" "1234" <nil>
	// "" "" invalid header field: X-Evil: control character '\r' in value
}

func ExampleComposition() {
	dir, err := os.MkdirTemp("", "attach")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(dir+"/résumé.pdf", []byte("%PDF-1.4\n"), 0o600); err != nil {
		log.Fatal(err)
	}
	attach, err := message.ParseAttachArg(dir + "/résumé.pdf")
	if err != nil {
		log.Fatal(err)
	}
	c := &message.Composition{
		From:        &mail.Address{Name: "Jörg", Address: "joerg@example.org"},
		To:          []*mail.Address{{Address: "jane@example.org"}},
		Subject:     "Grüße",
		Body:        strings.NewReader("Hallo Jane,\nanbei mein Lebenslauf.\n"),
		Attachments: []message.Attachment{attach},
	}
	m, err := c.Open() // opens every file before producing a byte
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	fmt.Println("SMTPUTF8 needed:", m.Header.UTF8())
	subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	fmt.Println("Subject:", m.Header.Get("Subject"), "=", subject)
	msg, err := mail.ReadMessage(m)
	if err != nil {
		log.Fatal(err)
	}
	mt, _, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	fmt.Println(mt)
	// Output:
	// SMTPUTF8 needed: false
	// Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= = Grüße
	// multipart/mixed
}
