package smtp

import "errors"

// DefaultChunkSize is the BDAT chunk size a [ChunkWriter] uses when given
// none. RFC 3030 sets no limit; 1 MiB keeps the per-chunk cost (a command,
// a reply, a hand-over between the writing and reading goroutines) a
// negligible share of the time while bounding memory.
const DefaultChunkSize = 1 << 20

// minChunkBuf is the first buffer a ChunkWriter allocates, so that a short
// message does not cost a whole chunk of memory.
const minChunkBuf = 4 << 10

var errChunkClosed = errors.New("smtp: write to a closed ChunkWriter")

// ChunkWriter collects bytes into chunks of a fixed size and hands each to
// emit, for the BDAT command (RFC 3030 §2). Close emits the final, possibly
// short or empty, chunk with last=true (BDAT n LAST).
//
// A full chunk is held back until more data arrives or Close is called, so
// that a body of exactly N chunks is sent as N BDAT commands, the last one
// marked LAST, instead of N+1 with an empty "BDAT 0 LAST".
//
// The chunk given to emit is valid only during the call: it is the writer's
// buffer or part of the slice given to Write, and emit must neither keep nor
// modify it. The buffer never grows past the chunk size and is reused, so
// steady-state writing does not allocate. The first error emit returns is
// returned by every later Write and Close, and emit is not called again.
type ChunkWriter struct {
	size   int
	emit   func(chunk []byte, last bool) error
	buf    []byte
	err    error
	closed bool
}

// NewChunkWriter returns a [ChunkWriter] making chunks of size bytes, or of
// [DefaultChunkSize] when size is not positive.
func NewChunkWriter(size int, emit func(chunk []byte, last bool) error) *ChunkWriter {
	if size <= 0 {
		size = DefaultChunkSize
	}
	return &ChunkWriter{size: size, emit: emit}
}

// Reset discards all state and makes c chunk a new message for emit,
// keeping its size and buffer: a batch of messages on one connection
// allocates the buffer once.
func (c *ChunkWriter) Reset(emit func(chunk []byte, last bool) error) {
	*c = ChunkWriter{size: c.size, emit: emit, buf: c.buf[:0]}
}

// Write adds p to the message, emitting every chunk that is known not to be
// the last.
func (c *ChunkWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if c.closed {
		return 0, errChunkClosed
	}
	n := 0
	for len(p) > 0 {
		if len(c.buf) == c.size {
			// More data follows, so the held chunk is not the last.
			if err := c.send(c.buf, false); err != nil {
				return n, err
			}
			c.buf = c.buf[:0]
		}
		if len(c.buf) == 0 && len(p) > c.size {
			// A whole chunk with more after it goes straight from p,
			// without a copy.
			if err := c.send(p[:c.size], false); err != nil {
				return n, err
			}
			p = p[c.size:]
			n += c.size
			continue
		}
		k := min(c.size-len(c.buf), len(p))
		c.reserve(k)
		c.buf = append(c.buf, p[:k]...)
		p = p[k:]
		n += k
	}
	return n, nil
}

// Close emits the held data as the last chunk; for an empty message that is
// a chunk of 0 bytes (RFC 3030 §2 allows "BDAT 0 LAST"). Calling Close again
// returns the same result without emitting anything.
func (c *ChunkWriter) Close() error {
	if c.closed || c.err != nil {
		c.closed = true
		return c.err
	}
	c.closed = true
	if err := c.send(c.buf, true); err != nil {
		return err
	}
	c.buf = c.buf[:0]
	return nil
}

func (c *ChunkWriter) send(chunk []byte, last bool) error {
	if err := c.emit(chunk, last); err != nil {
		c.err = err
		return err
	}
	return nil
}

// reserve makes room for k more bytes: a small buffer for a short message,
// else the whole chunk at once, so that a long message allocates once and
// its peak memory is the same whatever its size (growing by doubling would
// leave a chunk's worth of garbage behind).
func (c *ChunkWriter) reserve(k int) {
	need := len(c.buf) + k
	if need <= cap(c.buf) {
		return
	}
	n := c.size
	if need <= minChunkBuf {
		n = min(minChunkBuf, c.size)
	}
	buf := make([]byte, len(c.buf), n)
	copy(buf, c.buf)
	c.buf = buf
}
