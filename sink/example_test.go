package sink_test

import (
	"context"
	"fmt"
	"log"
	"net/smtp"
	"time"

	"github.com/outbox-smtp/outbox/sink"
)

// A test starts a sink on a free loopback port, lets the code under test
// send to it, and looks at what arrived.
func Example() {
	s, err := sink.New(sink.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	addr, err := s.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	msg := "Subject: hello\r\n\r\nHi Bob.\r\n"
	if err := smtp.SendMail(addr.String(), nil, "alice@example.org", []string{"bob@example.org"}, []byte(msg)); err != nil {
		log.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx, 1); err != nil {
		log.Fatal(err)
	}
	m := s.Messages()[0]
	fmt.Printf("from %s to %v: %q\n", m.From, m.To, m.Data)
	// Output: from alice@example.org to [bob@example.org]: "Subject: hello\r\n\r\nHi Bob.\r\n"
}

// Rules make the sink refuse some recipients, as a real server would.
func ExampleParseRule() {
	r, err := sink.ParseRule(`^nobody@=550 5.1.1 no such user`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Pattern, r.Code, r.Enhanced, r.Message)
	// Output: ^nobody@ 550 [5 1 1] no such user
}
