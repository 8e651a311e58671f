package smtp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
)

// Send runs one mail transaction: MAIL FROM, RCPT TO for every recipient,
// then the message from body through DATA or BDAT, streamed in constant
// memory.
//
// With PIPELINING (RFC 2920) the commands and, when the partial policy
// allows, the data go out without waiting for replies: MAIL, every RCPT and
// DATA in one write (or MAIL, every RCPT and the BDAT chunks, RFC 3030 §4.2).
// A writer goroutine sends while the calling goroutine reads the replies in
// order, so a large group can never deadlock.
//
// The result has one entry per recipient. The error is nil when the server
// accepted the message for at least one recipient, even if others were
// refused (see [Result.Recipients]). When the connection fails after the end
// of the data was sent, the error is [ErrOutcomeUnknown]: the message may
// have been accepted.
func (c *Client) Send(env *Envelope, body io.Reader, o *SendOptions) (*Result, error) {
	if o == nil {
		o = &SendOptions{}
	}
	if err := c.hello(); err != nil {
		return nil, err
	}
	if err := c.usable(); err != nil {
		return nil, err
	}
	if len(env.Recipients) == 0 {
		return nil, &StageError{StageRcpt, fmt.Errorf("%w: no recipients given", ErrNoRecipients)}
	}
	mailLine, policy, utf8, err := c.mailLine(env)
	if err != nil {
		return nil, &StageError{StageMail, err}
	}
	rcptLines := make([]string, len(env.Recipients))
	for i, r := range env.Recipients {
		if rcptLines[i], err = c.rcptLine(r, utf8); err != nil {
			return nil, &StageError{StageRcpt, err}
		}
	}
	policy.MaxLineLength = o.MaxLineLength
	policy.RejectBareLineEndings = o.RejectBareLineEndings
	chunked := c.ext.Has(ExtChunking) && (!o.NoChunking || env.Body == BodyBinaryMIME)
	pipelined := c.ext.Has(ExtPipelining)
	if c.br.Buffered() > 0 {
		return nil, c.fail(&StageError{StageMail, fmt.Errorf("%w: the server sent data before MAIL", ErrProtocol)}, false)
	}

	t := &txn{
		c:      c,
		env:    env,
		opts:   o,
		policy: policy,
		res: &Result{
			Recipients: make([]RcptResult, len(env.Recipients)),
			Chunked:    chunked,
			Pipelined:  pipelined,
		},
		chunked: chunked,
		body:    &bodyReader{r: body},
	}
	for i, r := range env.Recipients {
		t.res.Recipients[i].Recipient = r
	}
	p := newPipe(c, t, pipelined)
	p.run(func() error { return t.write(p, mailLine, rcptLines) })
	return t.finish(p)
}

// txn is the state of one transaction, shared between the goroutine that
// writes and the one that reads replies. Fields written by the reader are
// read by the writer only after pipe.wait, which orders them.
type txn struct {
	c       *Client
	env     *Envelope
	opts    *SendOptions
	policy  BodyPolicy
	res     *Result
	chunked bool
	body    *bodyReader

	// Set by the reader.
	stop      atomic.Bool // the writer should send no more data
	mailErr   error
	accepted  int
	refused   int
	dataOpen  bool  // 354 received
	dataErr   error // refusal of DATA or a BDAT chunk
	finalErr  error // refusal after the end of data
	finalDone bool  // the final reply(ies) arrived
	unknown   bool  // the connection died after the end of data was sent
	readErr   error // the connection broke while reading

	// Set by the writer.
	endSent   bool  // the end of data (final dot, BDAT LAST) was written
	bodyErr   error // the message could not be encoded (ErrBadMessage) or read
	writeErr  error // the connection broke while writing
	chunkSent bool  // at least one BDAT chunk went out
}

type expectKind int

const (
	kMail expectKind = iota
	kRcpt
	kData
	kBDAT
	kEnd // final dot, or BDAT LAST
	kRset
	kQuit
)

type expectation struct {
	kind    expectKind
	rcpt    int
	command string
}

// write is the writer's side of the transaction.
func (t *txn) write(p *pipe, mailLine string, rcptLines []string) error {
	c := t.c
	c.cw.timeout = c.tm.Command
	if err := p.send(expectation{kind: kMail, command: mailLine}, mailLine); err != nil {
		return err
	}
	for i, l := range rcptLines {
		if !p.async && t.stop.Load() {
			return nil // without pipelining, nothing follows a refused MAIL
		}
		if err := p.send(expectation{kind: kRcpt, rcpt: i, command: l}, l); err != nil {
			return err
		}
	}
	// With PartialAbort nothing of the data may go before every RCPT reply
	// is in: the data cannot be taken back (RFC 2920 §3.1).
	if t.opts.Partial == PartialAbort || !p.async {
		if err := p.wait(); err != nil {
			return err
		}
		if t.stop.Load() || t.accepted == 0 || (t.opts.Partial == PartialAbort && t.refused > 0) {
			return nil
		}
	}
	if t.chunked {
		return t.writeChunks(p)
	}
	return t.writeData(p)
}

// writeData sends DATA, waits for 354 (RFC 5321 §4.1.1.4: the data may not
// be pipelined past DATA), then the message, dot-stuffed, and the final dot.
func (t *txn) writeData(p *pipe) error {
	c := t.c
	if err := p.send(expectation{kind: kData, command: "DATA"}, "DATA"); err != nil {
		return err
	}
	if err := p.wait(); err != nil {
		return err
	}
	if !t.dataOpen {
		return nil
	}
	if t.accepted == 0 {
		// RFC 2920 §3.1: a server that answers DATA with 354 although no
		// recipient was accepted gets an empty message, which it then
		// refuses for lack of recipients.
		c.trace.client(".")
		if err := p.sendRaw(expectation{kind: kEnd, command: "end of data"}, ".\r\n"); err != nil {
			return err
		}
		return p.flush()
	}
	c.cw.timeout = c.tm.DataBlock
	var dst io.Writer = connSink{c.bw}
	if c.opts.TraceData && c.trace.enabled() {
		dst = io.MultiWriter(c.bw, &lineTracer{t: c.trace})
	}
	bw := t.c.bodyWriter(dst, t.policy, true)
	if _, err := io.CopyBuffer(bw, t.body, t.c.copyBuf()); err != nil {
		return t.bodyFailure(err)
	}
	if err := bw.Close(); err != nil {
		return t.bodyFailure(err)
	}
	st := bw.Stats()
	t.res.Size, t.res.Lines = st.BytesOut-int64(len(endOfData)), st.Lines
	if c.trace.enabled() && !c.opts.TraceData {
		c.trace.client(fmt.Sprintf("<message data: %d octets, %d lines>", t.res.Size, st.Lines))
		c.trace.client(".")
	}
	// The final dot is in the buffer: from here a lost connection means
	// the outcome is unknown.
	p.expect(expectation{kind: kEnd, command: "end of data"})
	t.endSent = true
	if err := t.queueQuit(p); err != nil {
		return err
	}
	return p.flush()
}

// writeChunks sends the message in BDAT chunks (RFC 3030 §2), the last one
// marked LAST. No dot-stuffing: each chunk says its size.
func (t *txn) writeChunks(p *pipe) error {
	c := t.c
	size := t.opts.ChunkSize
	if size <= 0 {
		size = DefaultChunkSize
	}
	cw := c.chunkWriter(size, func(chunk []byte, last bool) error {
		if t.stop.Load() {
			return errStopped
		}
		line := "BDAT " + strconv.Itoa(len(chunk))
		kind := kBDAT
		if last {
			line += " LAST"
			kind = kEnd
		}
		c.cw.timeout = c.tm.Command
		if err := p.sendLine(expectation{kind: kind, command: line}, line, line); err != nil {
			return err
		}
		c.cw.timeout = c.tm.DataBlock
		if c.trace.enabled() && !c.opts.TraceData {
			c.trace.client(fmt.Sprintf("<message data: %d octets>", len(chunk)))
		}
		if _, err := c.bw.Write(chunk); err != nil {
			return &writeError{err}
		}
		t.chunkSent = true
		if last {
			t.endSent = true
		}
		if !p.async {
			// Without PIPELINING each chunk waits for its reply.
			return p.flush()
		}
		return nil
	})
	var dst io.Writer = cw
	if c.opts.TraceData && c.trace.enabled() {
		dst = io.MultiWriter(cw, &lineTracer{t: c.trace})
	}
	bw := c.bodyWriter(dst, t.policy, false)
	if _, err := io.CopyBuffer(bw, t.body, c.copyBuf()); err != nil {
		return t.bodyFailure(err)
	}
	if err := bw.Close(); err != nil {
		return t.bodyFailure(err)
	}
	if err := cw.Close(); err != nil {
		return t.bodyFailure(err)
	}
	st := bw.Stats()
	t.res.Size, t.res.Lines = st.BytesOut, st.Lines
	if err := t.queueQuit(p); err != nil {
		return err
	}
	return p.flush()
}

// queueQuit puts QUIT right behind the end of the data, in the same write,
// when the caller asked for it and the server pipelines.
func (t *txn) queueQuit(p *pipe) error {
	if !t.opts.Quit || !p.async {
		return nil
	}
	return p.send(expectation{kind: kQuit, command: "QUIT"}, "QUIT")
}

var errStopped = errors.New("stopped")

// bodyFailure sorts an error of the data phase into a write error (the
// connection) or a body error (the caller's message).
func (t *txn) bodyFailure(err error) error {
	var we *writeError
	if errors.As(err, &we) {
		return we
	}
	if errors.Is(err, errStopped) {
		return nil
	}
	var re *readError
	if errors.As(err, &re) {
		t.bodyErr = fmt.Errorf("%w: %w", ErrMessageRead, re.err)
	} else {
		t.bodyErr = err
	}
	return nil
}

// bodyReader tags errors of the caller's reader so that they are not taken
// for connection errors.
type bodyReader struct{ r io.Reader }

type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// connSink tags the errors of writes to the connection, so that they are
// told apart from the caller's reader failing or the message being refused.
type connSink struct{ w io.Writer }

func (s connSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// writeError tags an error writing to the connection.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// handle processes the reply to one expectation. It runs on the reading
// goroutine.
func (t *txn) handle(e expectation, rep Reply) {
	c := t.c
	switch e.kind {
	case kMail:
		if err := c.expect(StageMail, e.command, rep, 250); err != nil {
			t.mailErr = err
			t.stop.Store(true)
		}
	case kRcpt:
		r := &t.res.Recipients[e.rcpt]
		r.Reply = rep
		// RFC 5321 §4.3.2: RCPT succeeds with 250 or 251.
		if err := c.expect(StageRcpt, e.command, rep, 250, 251); err != nil {
			r.Err = err
			t.refused++
			if c.err != nil {
				t.stop.Store(true)
			}
		} else if t.mailErr == nil {
			t.accepted++
		}
	case kData:
		if err := c.expect(StageData, "DATA", rep, 354); err != nil {
			t.dataErr = err
			t.stop.Store(true)
			return
		}
		t.dataOpen = true
	case kBDAT:
		if err := c.expect(StageData, e.command, rep, 250); err != nil {
			t.dataErr = err
			t.stop.Store(true)
		}
	case kEnd:
		t.handleEnd(e, rep)
	case kRset:
		c.expect(StageReset, "RSET", rep, 250)
	case kQuit:
		// After the message is accepted nothing may turn success into
		// failure: the reply to QUIT is read and ignored.
	}
}

// handleEnd processes the reply (or, for LMTP, the replies) after the end of
// the data.
func (t *txn) handleEnd(e expectation, rep Reply) {
	c := t.c
	if t.accepted == 0 {
		// The server had to take an empty or chunked message with no
		// recipient; whatever it says, nothing was delivered.
		t.finalDone = true
		return
	}
	if !c.opts.LMTP {
		t.finalDone = true
		t.res.Reply = rep
		if err := c.expect(StageDataEnd, "end of data", rep, 250); err != nil {
			t.finalErr = err
			return
		}
		t.res.QueueID = QueueID(rep.Text())
		return
	}
	// RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
	first := true
	for i := range t.res.Recipients {
		r := &t.res.Recipients[i]
		if !r.Accepted() {
			continue
		}
		if !first {
			var err error
			rep, err = c.readReply(StageDataEnd, c.tm.DataEnd, c.rr.limits.MaxLine)
			if err != nil {
				t.readErr = err
				t.unknown = true
				return
			}
		}
		if first {
			t.res.Reply = rep
			t.res.QueueID = QueueID(rep.Text())
			first = false
		}
		r.Reply = rep
		if err := c.expect(StageDataEnd, "end of data for "+r.Recipient.Address.Path(), rep, 250); err != nil {
			r.Err = err
			t.accepted--
			t.refused++
		}
	}
	t.finalDone = true
	if t.accepted == 0 {
		t.finalErr = fmt.Errorf("%w: every recipient refused the message after the data", ErrNoRecipients)
	}
}

// finish turns the state after the exchange into the result and error,
// and leaves the session ready for another transaction where it can.
func (t *txn) finish(p *pipe) (*Result, error) {
	c := t.c
	res := t.res
	if t.finalDone && t.finalErr == nil && t.accepted > 0 {
		// Accepted: nothing that happens afterwards (a failed QUIT, a
		// closed connection) turns this into a failure.
		if t.opts.Quit {
			if !p.async {
				c.Quit()
			}
			c.Close()
		}
		return res, nil
	}
	if t.readErr != nil || t.writeErr != nil {
		// When the writer failed first it closed the connection, and the
		// reader's error only says so: the writer's is the cause.
		readFirst := t.readErr != nil && (t.writeErr == nil || !errors.Is(t.readErr, net.ErrClosed))
		cause := t.writeErr
		if readFirst {
			cause = t.readErr
		}
		if t.endSent && !t.finalDone {
			// This replaces whatever broke the client: the caller must
			// learn that the message may have gone through.
			c.err = &StageError{StageDataEnd, fmt.Errorf("%w: %w", ErrOutcomeUnknown, cause)}
			c.inSync = false
			c.conn.Close()
			return res, c.err
		}
		if readFirst {
			return res, t.readErr
		}
		c.err = nil
		return res, c.ioError(StageData, "sending", t.writeErr)
	}
	if t.bodyErr != nil {
		err := &StageError{StageData, t.bodyErr}
		if t.dataOpen && !t.chunked {
			// Part of the message is out and there is no way to end DATA
			// without delivering it: close the connection so the server
			// discards it (RFC 5321 §4.1.1.4).
			return res, c.fail(err, false)
		}
		// BDAT: RSET abandons the chunks sent (RFC 3030 §2).
		c.Reset()
		return res, err
	}
	if t.mailErr != nil {
		return res, t.mailErr
	}
	if c.err != nil {
		return res, c.err
	}
	if t.accepted == 0 && !t.finalDone {
		if t.chunkSent || t.dataOpen {
			// Nothing was delivered; clean the session for the next
			// message.
			c.Reset()
		}
		return res, &StageError{StageRcpt, fmt.Errorf("%w: %w", ErrNoRecipients, firstRefusal(res))}
	}
	if t.opts.Partial == PartialAbort && t.refused > 0 && !t.endSent {
		c.Reset()
		return res, &StageError{StageRcpt, fmt.Errorf("%w: %w", ErrPartialAbort, firstRefusal(res))}
	}
	if t.dataErr != nil {
		if t.chunkSent && !t.finalDone {
			c.Reset()
		}
		if t.accepted == 0 {
			return res, &StageError{StageRcpt, fmt.Errorf("%w: %w", ErrNoRecipients, firstRefusal(res))}
		}
		return res, t.dataErr
	}
	if t.accepted == 0 {
		return res, &StageError{StageRcpt, fmt.Errorf("%w: %w", ErrNoRecipients, firstRefusal(res))}
	}
	if t.finalErr != nil {
		if c.opts.LMTP {
			return res, &StageError{StageDataEnd, fmt.Errorf("%w: %w", t.finalErr, firstRefusal(res))}
		}
		return res, t.finalErr
	}
	return res, c.fail(&StageError{StageDataEnd, fmt.Errorf("%w: the transaction ended without a final reply", ErrProtocol)}, false)
}

func firstRefusal(res *Result) error {
	for _, r := range res.Recipients {
		if r.Err != nil {
			// The caller wraps this in a StageError of its own: give the
			// refusal without its stage, so the stage is named once.
			var se *StageError
			if errors.As(r.Err, &se) {
				return se.Err
			}
			return r.Err
		}
	}
	return errors.New("no recipient accepted")
}

// Mail sends MAIL FROM for env alone (no recipients, no data), for probing
// whether a sender is accepted. The transaction stays open: follow with
// [Client.Rcpt] and [Client.Reset].
func (c *Client) Mail(env *Envelope) error {
	if err := c.hello(); err != nil {
		return err
	}
	line, _, _, err := c.mailLine(env)
	if err != nil {
		return &StageError{StageMail, err}
	}
	_, err = c.roundTrip(StageMail, c.tm.Mail, line, line, 250)
	return err
}

// Rcpt sends one RCPT TO inside a transaction opened by [Client.Mail].
func (c *Client) Rcpt(r Recipient) (Reply, error) {
	if err := c.hello(); err != nil {
		return Reply{}, err
	}
	line, err := c.rcptLine(r, c.ext.Has(ExtSMTPUTF8) && r.Address.NeedsSMTPUTF8())
	if err != nil {
		return Reply{}, &StageError{StageRcpt, err}
	}
	return c.roundTrip(StageRcpt, c.tm.Rcpt, line, line, 250, 251)
}

// The buffers of the data path are kept by the client and reused by every
// message of the session, so a batch (a queue flush) allocates them once.

func (c *Client) bodyWriter(w io.Writer, p BodyPolicy, dotStuff bool) *BodyWriter {
	if c.body == nil {
		c.body = NewBodyWriter(w, p, dotStuff)
	} else {
		c.body.Reset(w, p, dotStuff)
	}
	return c.body
}

func (c *Client) chunkWriter(size int, emit func(chunk []byte, last bool) error) *ChunkWriter {
	if c.chunks == nil || c.chunkSize != size {
		c.chunks = NewChunkWriter(size, emit)
		c.chunkSize = size
	} else {
		c.chunks.Reset(emit)
	}
	return c.chunks
}

// copyBuf is the buffer for reading the caller's message.
func (c *Client) copyBuf() []byte {
	if c.readBuf == nil {
		c.readBuf = make([]byte, 32<<10)
	}
	return c.readBuf
}
