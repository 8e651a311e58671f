package main

import (
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// runProxy relays loopback connections to an upstream server, delaying the
// data of each direction by RTT/2 and the connection by one RTT (the TCP
// handshake of a real path: the client's connect on loopback returns at
// once). For every connection it appends one JSON line to the log:
//
//	round_trips  1 (the TCP handshake) + the number of times the client
//	             waited for the server: the runs of server data delivered to
//	             the client with no client data in between, not counting a
//	             run that arrived after the client had closed
//	flights      the runs of client data with no server data in between
//	ms           the connection's life at the proxy
//
// The events are ordered as the client sees them: client data when the
// proxy reads it, server data when the proxy delivers it.
func runProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:0", "listen on `ADDR` (loopback only)")
	addrFile := fs.String("addr-file", "", "write the address listened on to `FILE`")
	upstream := fs.String("upstream", "", "relay to `ADDR` (loopback only)")
	rtt := fs.Duration("rtt", 100*time.Millisecond, "the round-trip `TIME` to add")
	logFile := fs.String("log", "", "append one JSON line per connection to `FILE` (default: standard output)")
	fs.Parse(args)
	if err := loopbackOnly(*listen); err != nil {
		return err
	}
	if err := loopbackOnly(*upstream); err != nil {
		return err
	}
	var out io.Writer = os.Stdout
	if *logFile != "" {
		f, err := os.OpenFile(*logFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := writeFileAtomic(*addrFile, ln.Addr().String()+"\n"); err != nil {
			return err
		}
	}
	var logMu sync.Mutex
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			st := relay(c.(*net.TCPConn), *upstream, *rtt)
			b, _ := json.Marshal(st)
			logMu.Lock()
			out.Write(append(b, '\n'))
			logMu.Unlock()
		}()
	}
}

type proxyStats struct {
	RoundTrips  int     `json:"round_trips"`
	Flights     int     `json:"flights"`
	ClientBytes int64   `json:"client_bytes"`
	ServerBytes int64   `json:"server_bytes"`
	MS          float64 `json:"ms"`
	Err         string  `json:"error,omitempty"`
}

// tracker orders the events of one connection.
type tracker struct {
	mu           sync.Mutex
	last         byte // 'c' client data read, 's' server data delivered
	serverRuns   int
	flights      int
	clientClosed bool
}

func (t *tracker) clientData() {
	t.mu.Lock()
	if t.last != 'c' {
		t.flights++
	}
	t.last = 'c'
	t.mu.Unlock()
}

func (t *tracker) serverData() {
	t.mu.Lock()
	if t.last != 's' && !t.clientClosed {
		t.serverRuns++
	}
	t.last = 's'
	t.mu.Unlock()
}

func (t *tracker) clientEOF() {
	t.mu.Lock()
	t.clientClosed = true
	t.mu.Unlock()
}

type chunk struct {
	data []byte
	due  time.Time
	eof  bool
}

func relay(client *net.TCPConn, upstream string, rtt time.Duration) proxyStats {
	start := time.Now()
	defer client.Close()
	t := &tracker{}
	half := rtt / 2
	var st proxyStats

	// The TCP handshake: one round trip before the server sees the
	// connection and answers.
	time.Sleep(rtt)
	sc, err := net.DialTimeout("tcp", upstream, 10*time.Second)
	if err != nil {
		st.Err = err.Error()
		return st
	}
	server := sc.(*net.TCPConn)
	defer server.Close()
	server.SetNoDelay(true)
	client.SetNoDelay(true)

	var wg sync.WaitGroup
	wg.Add(2)
	// client -> server
	go func() {
		defer wg.Done()
		st.ClientBytes = pump(client, server, half, t.clientData, t.clientEOF, nil)
	}()
	// server -> client
	go func() {
		defer wg.Done()
		st.ServerBytes = pump(server, client, half, nil, nil, t.serverData)
	}()
	wg.Wait()
	st.RoundTrips = 1 + t.serverRuns
	st.Flights = t.flights
	st.MS = float64(time.Since(start).Microseconds()) / 1000
	return st
}

// pump copies src to dst, each read delivered delay after it was read, in
// order. onRead runs when data is read, onEOF at the end of src, onDeliver
// right before data is written to dst.
func pump(src, dst *net.TCPConn, delay time.Duration, onRead, onEOF, onDeliver func()) int64 {
	q := make(chan chunk, 1<<14)
	var n int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			k, err := src.Read(buf)
			if k > 0 {
				if onRead != nil {
					onRead()
				}
				q <- chunk{data: append([]byte(nil), buf[:k]...), due: time.Now().Add(delay)}
			}
			if err != nil {
				if onEOF != nil {
					onEOF()
				}
				q <- chunk{eof: true, due: time.Now().Add(delay)}
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if c.eof {
			dst.CloseWrite()
			// Drain the reader goroutine's queue: nothing follows EOF.
			return n
		}
		if onDeliver != nil {
			onDeliver()
		}
		k, err := dst.Write(c.data)
		n += int64(k)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			// The peer went away: keep reading so the other side ends.
			src.CloseRead()
		}
	}
	return n
}
