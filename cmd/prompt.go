package cmd

import (
	"errors"
	"fmt"
	"os"
	"os/signal"

	"github.com/outbox-smtp/outbox/account"
	"golang.org/x/term"
)

// errPromptInterrupted is the prompt cancelled with Ctrl-C.
var errPromptInterrupted = errors.New("interrupted")

// ttyPrompt asks for a secret on the controlling terminal, not on stdin
// (which carries the message), without echo. Ctrl-C restores the terminal
// before the error is returned. It returns account.ErrNoTerminal when
// there is no terminal.
func ttyPrompt(label string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", account.ErrNoTerminal
	}
	defer tty.Close()
	fd := int(tty.Fd())
	if !term.IsTerminal(fd) {
		return "", account.ErrNoTerminal
	}
	state, err := term.GetState(fd)
	if err != nil {
		return "", err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	fmt.Fprintf(tty, "%s: ", label)
	go func() {
		b, err := term.ReadPassword(fd)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		fmt.Fprintln(tty)
		if r.err != nil {
			return "", r.err
		}
		return string(r.b), nil
	case <-sigs:
		term.Restore(fd, state)
		fmt.Fprintln(tty)
		return "", errPromptInterrupted
	}
}
