package smtp_test

import (
	"crypto/tls"
	"log"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/auth"
	"github.com/outbox-smtp/outbox/smtp"
)

// A submission session: connect, upgrade with STARTTLS (never continuing in
// plaintext), authenticate with the strongest mechanism the server offers
// after TLS, and send one message.
func Example() {
	c, err := smtp.Dial("mail.example.org:587", 30*time.Second, &smtp.Options{LocalName: "client.example.org"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: "mail.example.org"}); err != nil {
		log.Fatal(err) // includes a server that does not offer STARTTLS
	}
	state, _ := c.TLSConnectionState()
	mech, err := auth.Choose(c.Extensions().AuthMechanisms(), &state, auth.Config{
		User:     "alice@example.org",
		Password: func() (string, error) { return "app-password", nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Auth(mech); err != nil {
		log.Fatal(err)
	}
	from, _ := smtp.ParseAddress("alice@example.org")
	to, _ := smtp.ParseAddress("bob@example.org")
	msg := "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hello\r\n\r\nHi Bob.\r\n"
	res, err := c.Send(&smtp.Envelope{From: from, Recipients: []smtp.Recipient{{Address: to}}},
		strings.NewReader(msg), &smtp.SendOptions{Quit: true})
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("queued as %s", res.QueueID)
}
