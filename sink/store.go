package sink

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Store keeps accepted messages. Deliver writes the message's
// [Message.Envelope] followed by its Data; it must have written the message
// durably when it returns nil, because the client is told the message was
// accepted only then. It returns where the message went, or "" when that is
// not a file. Deliver is called from several connections at once.
type Store interface {
	Deliver(m *Message) (path string, err error)
}

// Maildir stores each message as one file in a Maildir (see
// https://cr.yp.to/proto/maildir.html): written and synced under tmp/, then
// renamed into new/, so a reader never sees a partial message.
type Maildir struct {
	dir  string
	host string
}

// NewMaildir returns a Maildir store in dir, creating dir and its tmp, new
// and cur subdirectories when they are missing.
func NewMaildir(dir string) (*Maildir, error) {
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	// The Maildir specification reserves "/" and ":" in the host part.
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	return &Maildir{dir: dir, host: host}, nil
}

// maildirSeq is the Q part of Maildir names: deliveries by this process.
var maildirSeq atomic.Uint64

// Dir returns the Maildir's directory.
func (md *Maildir) Dir() string { return md.dir }

// Deliver implements [Store].
func (md *Maildir) Deliver(m *Message) (string, error) {
	// The usual modern form of a Maildir name: seconds, microseconds,
	// process, a counter and random digits (here the message ID), so that
	// names sort in delivery order.
	name := fmt.Sprintf("%d.M%06dP%dQ%dR%s.%s", m.Received.Unix(), m.Received.Nanosecond()/1000,
		os.Getpid(), maildirSeq.Add(1), m.ID, md.host)
	tmp := filepath.Join(md.dir, "tmp", name)
	final := filepath.Join(md.dir, "new", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("maildir: %w", err)
	}
	err = writeAll(f, m.Envelope(), m.Data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(filepath.Join(md.dir, "new"))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("maildir: %w", err)
	}
	return final, nil
}

func writeAll(w io.Writer, parts ...[]byte) error {
	for _, p := range parts {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes a rename in dir durable. Windows cannot sync a directory
// and makes renames durable on its own.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mbox appends each message to one mbox file in the mboxrd variant: a
// "From " separator line, and a ">" added to every line of the message
// that matches /^>*From / so a reader can undo it. Each append happens
// under an exclusive advisory lock (flock) with one write, and is undone
// if the write fails.
type Mbox struct {
	path string
	mu   sync.Mutex // flock does not exclude the same process on every system
}

// NewMbox returns an mbox store that appends to path, creating the file
// when it is missing.
func NewMbox(path string) (*Mbox, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("mbox: %w", err)
	}
	return &Mbox{path: path}, nil
}

// Deliver implements [Store].
func (mb *Mbox) Deliver(m *Message) (string, error) {
	entry := mboxEntry(m)
	mb.mu.Lock()
	defer mb.mu.Unlock()
	f, err := os.OpenFile(mb.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("mbox: %w", err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return "", fmt.Errorf("mbox: lock %s: %w", mb.path, err)
	}
	defer unlockFile(f)
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("mbox: %w", err)
	}
	if _, err = f.Write(entry); err == nil {
		err = f.Sync()
	}
	if err != nil {
		// Leave the mailbox as it was rather than with half a message.
		f.Truncate(fi.Size())
		return "", fmt.Errorf("mbox: %w", err)
	}
	return mb.path, nil
}

// Stream writes each message, in the same mboxrd format as [Mbox], to a
// writer such as standard output.
type Stream struct {
	mu sync.Mutex
	w  io.Writer
}

// NewStream returns a store that writes to w.
func NewStream(w io.Writer) *Stream { return &Stream{w: w} }

// Deliver implements [Store].
func (s *Stream) Deliver(m *Message) (string, error) {
	entry := mboxEntry(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(entry); err != nil {
		return "", err
	}
	if f, ok := s.w.(interface{ Sync() error }); ok {
		// Standard output may be a terminal or a pipe, which cannot sync.
		f.Sync()
	}
	return "", nil
}

// mboxEntry is m as one mboxrd entry: the "From " line, the envelope, the
// quoted data ending with a line ending, and an empty line.
func mboxEntry(m *Message) []byte {
	eol := lineEnding(m.Data)
	sender := headerSafe(m.From)
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	sender = strings.ReplaceAll(sender, " ", "_")
	var b bytes.Buffer
	b.Grow(len(m.Data) + 256)
	b.WriteString("From " + sender + " " + m.Received.UTC().Format(time.ANSIC) + eol)
	b.Write(m.Envelope())
	data := m.Data
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line = data[:i+1]
		}
		data = data[len(line):]
		if isFromLine(line) {
			b.WriteByte('>')
		}
		b.Write(line)
	}
	if len(m.Data) > 0 && m.Data[len(m.Data)-1] != '\n' {
		b.WriteString(eol)
	}
	b.WriteString(eol)
	return b.Bytes()
}

// isFromLine reports whether line matches /^>*From /.
func isFromLine(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From "))
}
