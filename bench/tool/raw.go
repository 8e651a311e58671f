package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// runRaw is the ceiling of the throughput measurement: it sends a file to
// the sink verbatim as one BDAT LAST chunk, so the only work is the
// loopback copy and the sink's reading. No encoding, no line handling. By
// default it copies through a 256 KiB buffer with read(2) and write(2), as
// any client that looks at the message must; -sendfile uses sendfile(2),
// which never brings the data into the process.
func runRaw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	addr := fs.String("addr", "", "the sink's `ADDR` (loopback only)")
	file := fs.String("file", "", "send the octets of `FILE`")
	sendfile := fs.Bool("sendfile", false, "copy with sendfile(2) instead of read(2) and write(2)")
	fs.Parse(args)
	if err := loopbackOnly(*addr); err != nil {
		return err
	}
	f, err := os.Open(*file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", *addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	expect := func(code string) error {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, code) {
				return fmt.Errorf("unexpected reply %q", line)
			}
			if len(line) < 4 || line[3] != '-' {
				return nil
			}
		}
	}
	if err := expect("220"); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "EHLO localhost\r\n"); err != nil {
		return err
	}
	if err := expect("250"); err != nil {
		return err
	}
	head := fmt.Sprintf("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\nBDAT %d LAST\r\n", fi.Size())
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	if *sendfile {
		if _, err := io.Copy(conn, f); err != nil { // sendfile(2)
			return err
		}
	} else {
		// The wrappers hide ReaderFrom and WriterTo: a plain copy loop.
		w := struct{ io.Writer }{conn}
		r := struct{ io.Reader }{f}
		if _, err := io.CopyBuffer(w, r, make([]byte, 256<<10)); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(conn, "QUIT\r\n"); err != nil {
		return err
	}
	for _, c := range []string{"250", "250", "250", "221"} {
		if err := expect(c); err != nil {
			return err
		}
	}
	return nil
}
