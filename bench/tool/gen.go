package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// runGen writes a plain-text message of exactly the given size: a short
// header, then lines of 76 printable characters (none starts with a dot).
func runGen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	size := fs.String("size", "1024", "the message's `SIZE` in octets (suffixes k, m, g: KiB, MiB, GiB)")
	out := fs.String("out", "", "write to `FILE`")
	crlf := fs.Bool("crlf", false, "end lines with CRLF instead of LF")
	fs.Parse(args)
	n, err := parseSize(*size)
	if err != nil {
		return err
	}
	return genMessage(*out, n, *crlf)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, strings.TrimSuffix(s, "g")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

func genMessage(path string, size int64, crlf bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	eol := "\n"
	if crlf {
		eol = "\r\n"
	}
	w := bufio.NewWriterSize(f, 1<<20)
	header := strings.Join([]string{
		"From: Bench Sender <a@example.org>",
		"To: Bench Recipient <b@example.org>",
		"Subject: benchmark message of " + strconv.FormatInt(size, 10) + " octets",
		"Date: Mon, 1 Jan 2024 00:00:00 +0000",
		"Message-ID: <bench." + strconv.FormatInt(size, 10) + "@example.org>",
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=us-ascii",
		"", "",
	}, eol)
	w.WriteString(header)
	left := size - int64(len(header))
	const text = "The quick brown fox jumps over the lazy dog; pack my box with five dozen jugs. 0123456789 "
	for i := 0; left > 0; i++ {
		l := int64(76)
		if left < l+int64(len(eol)) {
			l = left - int64(len(eol))
		}
		if l > 0 {
			o := i % 13
			w.WriteString(text[o : o+int(l)])
		}
		if l >= 0 {
			w.WriteString(eol)
			left -= l + int64(len(eol))
		} else {
			w.WriteString(strings.Repeat("x", int(left)))
			left = 0
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
