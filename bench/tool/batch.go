package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/outbox-smtp/outbox/smtp"
)

// runBatch sends the same message n times over one connection with the
// smtp package (smtp.Dial, then Client.Send per message): what a queue flush
// or a batch send of outbox does. outbox's command line has no such entry
// point yet.
func runBatch(args []string) error {
	fs := flag.NewFlagSet("batch", flag.ExitOnError)
	addr := fs.String("addr", "", "the server's `ADDR` (loopback only)")
	file := fs.String("file", "", "the message `FILE`")
	n := fs.Int("n", 1000, "send `N` messages")
	noChunking := fs.Bool("no-chunking", false, "use DATA even when CHUNKING is offered")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	msg, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	from, err := smtp.ParseAddress("a@example.org")
	if err != nil {
		return err
	}
	to, err := smtp.ParseAddress("b@example.org")
	if err != nil {
		return err
	}
	env := &smtp.Envelope{From: from, Recipients: []smtp.Recipient{{Address: to}}}
	start := time.Now()
	c, err := smtp.Dial(*addr, 10*time.Second, &smtp.Options{LocalName: "localhost"})
	if err != nil {
		return err
	}
	defer c.Close()
	opts := &smtp.SendOptions{NoChunking: *noChunking}
	r := bytes.NewReader(msg)
	for i := 0; i < *n; i++ {
		r.Reset(msg)
		if _, err := c.Send(env, r, opts); err != nil {
			return fmt.Errorf("message %d: %w", i+1, err)
		}
	}
	if err := c.Quit(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Fprintf(os.Stderr, "%d messages in %v: %.0f/s\n", *n, d, float64(*n)/d.Seconds())
	return nil
}
