// Command benchtool is the performance harness of outbox. Its subcommands:
//
//	run      run every measurement and write BENCHMARKS.md (see bench/run)
//	discard  a minimal SMTP server that discards what it receives: plain,
//	         STARTTLS or implicit TLS, optional AUTH and CHUNKING
//	proxy    a TCP proxy on loopback that delays each direction by RTT/2 and
//	         counts the round trips of every connection
//	raw      the raw loopback copy: one BDAT LAST chunk sent with sendfile
//	batch    many messages over one connection through the smtp package
//	gen      write a test message of a given size
//
// Everything listens and connects on 127.0.0.1 only.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "run":
		err = runHarness(args)
	case "discard":
		err = runDiscard(args)
	case "proxy":
		err = runProxy(args)
	case "raw":
		err = runRaw(args)
	case "batch":
		err = runBatch(args)
	case "gen":
		err = runGen(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool run|discard|proxy|raw|batch|gen [flags]")
	os.Exit(2)
}
