package cmd

import (
	"bytes"
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// newTraceWriter returns the writer for the protocol transcript on w
// (standard error): coloured by direction when w is a terminal and NO_COLOR
// is unset (https://no-color.org), plain otherwise.
func newTraceWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && os.Getenv("NO_COLOR") == "" && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return &colourTrace{w: w}
	}
	return w
}

// colourTrace colours each transcript line by its direction marker.
type colourTrace struct {
	w    io.Writer
	line []byte
}

const (
	ansiClient = "\x1b[36m" // cyan: what outbox sent
	ansiServer = "\x1b[32m" // green: what the server said
	ansiEvent  = "\x1b[33m" // yellow: TLS and AUTH events
	ansiReset  = "\x1b[0m"
)

func (c *colourTrace) Write(p []byte) (int, error) {
	c.line = append(c.line, p...)
	for {
		i := bytes.IndexByte(c.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		l := c.line[:i]
		colour := ""
		switch {
		case bytes.Contains(l, []byte(" C: ")):
			colour = ansiClient
		case bytes.Contains(l, []byte(" S: ")):
			colour = ansiServer
		case bytes.Contains(l, []byte(" * ")):
			colour = ansiEvent
		}
		var err error
		if colour != "" {
			_, err = io.WriteString(c.w, colour+string(l)+ansiReset+"\n")
		} else {
			_, err = c.w.Write(c.line[:i+1])
		}
		c.line = c.line[i+1:]
		if err != nil {
			return len(p), err
		}
	}
}
