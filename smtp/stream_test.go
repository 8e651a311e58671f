package smtp

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// discardServer is a minimal SMTP server for streaming tests: it accepts
// one message per session, with or without CHUNKING, and throws the data
// away, counting it.
func discardServer(t testing.TB, chunking bool) (addr string, received *atomic.Int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	received = new(atomic.Int64)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveDiscard(conn, chunking, received)
		}
	}()
	return ln.Addr().String(), received
}

func serveDiscard(conn net.Conn, chunking bool, received *atomic.Int64) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 64<<10)
	w := bufio.NewWriter(conn)
	reply := func(s string) { w.WriteString(s + "\r\n") }
	reply("220 sink")
	w.Flush()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if chunking {
				reply("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 CHUNKING")
			} else {
				reply("250-sink\r\n250-PIPELINING\r\n250 8BITMIME")
			}
		case "MAIL", "RCPT", "RSET":
			reply("250 ok")
		case "DATA":
			reply("354 go")
			w.Flush()
			for {
				l, err := br.ReadSlice('\n')
				if err != nil && err != bufio.ErrBufferFull {
					return
				}
				received.Add(int64(len(l)))
				if string(l) == ".\r\n" {
					break
				}
			}
			reply("250 ok queued as D1")
		case "BDAT":
			f := strings.Fields(arg)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			if _, err := io.CopyN(io.Discard, br, n); err != nil {
				return
			}
			received.Add(n)
			if len(f) > 1 {
				reply("250 ok queued as B1")
			} else {
				reply("250 chunk ok")
			}
		case "QUIT":
			reply("221 bye")
			w.Flush()
			return
		default:
			reply("500 what")
		}
		if br.Buffered() == 0 {
			w.Flush()
		}
	}
}

// peakHeap samples the heap while f runs and returns the largest HeapInuse
// seen above the level before.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return peak.Load()
}

// TestSendConstantMemory streams a generated message, never held in memory,
// through DATA and through BDAT to a server on loopback, and checks that the
// heap stays far below the message size: the body path streams.
func TestSendConstantMemory(t *testing.T) {
	size := int64(256 << 20)
	if raceEnabled() {
		// The race detector slows the encoder some tenfold; a quarter of
		// the size still proves the memory bound is flat.
		size = 64 << 20
	}
	for _, chunking := range []bool{false, true} {
		addr, received := discardServer(t, chunking)
		c, err := Dial(addr, time.Second, &Options{LocalName: "client.example"})
		if err != nil {
			t.Fatal(err)
		}
		var res *Result
		peak := peakHeap(func() {
			res, err = c.Send(&Envelope{
				From:       mustAddr(t, "a@example.org"),
				Recipients: []Recipient{{Address: mustAddr(t, "b@example.org")}},
			}, io.LimitReader(infiniteText{}, size), nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Quit()
		if res.Size < size {
			t.Errorf("sent %d octets of %d", res.Size, size)
		}
		if received.Load() < size {
			t.Errorf("server received %d octets of %d", received.Load(), size)
		}
		const bound = 16 << 20
		if peak > bound {
			t.Errorf("chunking=%v: heap grew by %d MiB for a %d MiB message (bound %d MiB)", chunking, peak>>20, size>>20, bound>>20)
		}
		t.Logf("chunking=%v: %d MiB sent, heap peak +%.1f MiB", chunking, size>>20, float64(peak)/(1<<20))
	}
}

// BenchmarkSend measures a whole transaction of a 1 MiB message over
// loopback, DATA and BDAT.
func BenchmarkSend(b *testing.B) {
	for _, chunking := range []bool{false, true} {
		name := "DATA"
		if chunking {
			name = "BDAT"
		}
		b.Run(name, func(b *testing.B) {
			addr, _ := discardServer(b, chunking)
			c, err := Dial(addr, time.Second, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Quit()
			env := &Envelope{From: Address{Local: "a", Domain: "example.org"}, Recipients: []Recipient{{Address: Address{Local: "b", Domain: "example.org"}}}}
			const size = 1 << 20
			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := c.Send(env, io.LimitReader(infiniteText{}, size), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
