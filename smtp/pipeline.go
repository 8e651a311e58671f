package smtp

import (
	"errors"
	"sync"
)

// RFC 2920 PIPELINING: the commands of a transaction go out in one write
// and their replies are read in order. Reading and writing run on two
// goroutines, so that no group of commands, however large, can deadlock
// against a server that answers as it reads.

// pipe carries the commands of a transaction to the server and their
// replies back. In async mode (PIPELINING) a writer goroutine sends while
// the caller's goroutine reads; otherwise every command waits for its reply.
type pipe struct {
	c     *Client
	t     *txn
	async bool

	mu        sync.Mutex
	cond      *sync.Cond
	queue     []expectation
	pushed    int
	handled   int
	closed    bool
	readerOut bool // the reader stopped: the connection is broken
}

func newPipe(c *Client, t *txn, async bool) *pipe {
	p := &pipe{c: c, t: t, async: async}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// run executes write, concurrently with the reply reader when async.
func (p *pipe) run(write func() error) {
	if !p.async {
		if err := write(); err != nil {
			p.writerFailed(err)
		}
		return
	}
	done := make(chan error, 1)
	go func() {
		err := write()
		if err == nil {
			err = p.flush()
		}
		var we *writeError
		if errors.As(err, &we) {
			// The connection is broken: unblock the reader, which may be
			// waiting for a reply that will never come.
			p.c.conn.Close()
		}
		p.mu.Lock()
		p.closed = true
		p.cond.Broadcast()
		p.mu.Unlock()
		done <- err
	}()
	p.readLoop()
	if err := <-done; err != nil {
		p.writerFailed(err)
	}
}

func (p *pipe) writerFailed(err error) {
	var we *writeError
	if errors.As(err, &we) {
		p.t.writeErr = we.err
		return
	}
	if p.t.readErr != nil {
		return // the reader saw the connection break first
	}
	p.t.writeErr = err
}

// readLoop reads one reply per expectation until the writer is done and
// every expectation is handled.
func (p *pipe) readLoop() {
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		e := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()

		ok := p.readOne(e)

		p.mu.Lock()
		p.handled++
		if !ok {
			p.readerOut = true
			// Drop what is left: nothing more can be read.
			p.handled += len(p.queue)
			p.queue = nil
		}
		p.cond.Broadcast()
		p.mu.Unlock()
		if !ok {
			p.t.stop.Store(true)
			// Let the writer finish (its writes fail on the closed
			// connection) and drain nothing more.
			for {
				p.mu.Lock()
				for len(p.queue) == 0 && !p.closed {
					p.cond.Wait()
				}
				closed := p.closed
				p.handled += len(p.queue)
				p.queue = nil
				p.cond.Broadcast()
				p.mu.Unlock()
				if closed {
					return
				}
			}
		}
	}
}

// readOne reads and handles the reply for e. It reports false when the
// connection broke.
func (p *pipe) readOne(e expectation) bool {
	c := p.c
	stage, timeout := StageMail, c.tm.Mail
	switch e.kind {
	case kRcpt:
		stage, timeout = StageRcpt, c.tm.Rcpt
	case kData:
		stage, timeout = StageData, c.tm.DataInit
	case kBDAT:
		stage, timeout = StageData, c.tm.DataBlock
	case kEnd:
		stage, timeout = StageDataEnd, c.tm.DataEnd
	case kRset:
		stage, timeout = StageReset, c.tm.Command
	case kQuit:
		stage, timeout = StageQuit, c.tm.Command
	}
	rep, err := c.readReply(stage, timeout, c.rr.limits.MaxLine)
	if err != nil {
		if e.kind == kQuit && p.t.finalDone {
			return true // a failed QUIT after success changes nothing
		}
		p.t.readErr = err
		return false
	}
	p.t.handle(e, rep)
	if p.t.readErr != nil {
		return false
	}
	return true
}

// send queues a command line and its expectation.
func (p *pipe) send(e expectation, line string) error {
	return p.sendLine(e, line, line)
}

func (p *pipe) sendLine(e expectation, line, shown string) error {
	if err := p.c.queueLine(line, shown, maxCommandLine); err != nil {
		return &writeError{err}
	}
	return p.expectAndMaybeRead(e)
}

// sendRaw queues bytes that are not a command line (the lone final dot).
func (p *pipe) sendRaw(e expectation, raw string) error {
	if _, err := p.c.bw.WriteString(raw); err != nil {
		return &writeError{err}
	}
	return p.expectAndMaybeRead(e)
}

func (p *pipe) expectAndMaybeRead(e expectation) error {
	if p.async {
		p.expect(e)
		return nil
	}
	if e.kind == kBDAT || e.kind == kEnd {
		// The chunk's bytes follow the command; the reply is read after
		// them (expect is called again by the chunk writer via wait).
		p.expect(e)
		return nil
	}
	if err := p.flush(); err != nil {
		return err
	}
	if !p.readOne(e) {
		return errStopped
	}
	return nil
}

// expect records that a reply is due for e.
func (p *pipe) expect(e expectation) {
	if !p.async {
		p.queue = append(p.queue, e)
		return
	}
	p.mu.Lock()
	p.queue = append(p.queue, e)
	p.pushed++
	p.cond.Broadcast()
	p.mu.Unlock()
}

// flush sends what is buffered; in sync mode it also reads the replies due.
func (p *pipe) flush() error {
	if err := p.c.bw.Flush(); err != nil {
		return &writeError{err}
	}
	if !p.async {
		q := p.queue
		p.queue = nil
		for _, e := range q {
			if !p.readOne(e) {
				return errStopped
			}
		}
	}
	return nil
}

// wait flushes and waits until every reply due has been handled.
func (p *pipe) wait() error {
	if err := p.flush(); err != nil {
		return err
	}
	if !p.async {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.handled < p.pushed && !p.readerOut {
		p.cond.Wait()
	}
	if p.readerOut {
		return errStopped
	}
	return nil
}
