package queue_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/queue"
	"github.com/outbox-smtp/outbox/sink"
	"github.com/outbox-smtp/outbox/smtp"
)

// dialer opens one SMTP session per account; a real one looks the account
// up, dials its server, does STARTTLS and AUTH.
type dialer struct{ addr string }

func (d dialer) Dial(ctx context.Context, account string) (queue.Session, error) {
	c, err := smtp.Dial(d.addr, 10*time.Second, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close()
		return nil, err
	}
	return session{c}, nil
}

// session sends several messages on one connection.
type session struct{ c *smtp.Client }

func (s session) Send(ctx context.Context, env *smtp.Envelope, body io.Reader) (*smtp.Result, error) {
	return s.c.Send(env, body, nil)
}
func (s session) Err() error   { return s.c.Err() }
func (s session) Close() error { return s.c.Quit() }

// A message that could not be sent is queued, then a flush delivers it.
func Example() {
	srv, err := sink.New(sink.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		log.Fatal(err)
	}
	addr, err := srv.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	dir, err := os.MkdirTemp("", "queue")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	q, err := queue.Open(dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	env := queue.Envelope{
		Account:    "work",
		From:       "alice@example.org",
		Recipients: []queue.Recipient{{Address: "bob@example.org"}},
	}
	msg := "Subject: disk full\r\nMessage-ID: <alert-1@example.org>\r\n\r\n/var is at 99%.\r\n"
	if _, err := q.Enqueue(env, strings.NewReader(msg)); err != nil {
		log.Fatal(err)
	}

	rep, err := q.Flush(context.Background(), dialer{addr.String()}, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rep.Entries {
		for _, rc := range r.Recipients {
			fmt.Println(r.MessageID, rc.Address, rc.Fate)
		}
	}
	left, _ := q.List()
	fmt.Println(len(left), "left in the queue")
	// Output:
	// <alert-1@example.org> bob@example.org delivered
	// 0 left in the queue
}
