package message

import (
	"bufio"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchSize = 16 << 20

func BenchmarkNewReader(b *testing.B) {
	b.SetBytes(benchSize)
	for b.Loop() {
		br := bufio.NewReader(io.MultiReader(strings.NewReader("To: a@example.org\nBcc: b@example.org\n\n"), newLineSource(benchSize)))
		h, err := ReadHeader(br)
		if err != nil {
			b.Fatal(err)
		}
		if err := (Prepare{StripBcc: true}).Apply(h); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, NewReader(h, br)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDotTerminated(b *testing.B) {
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := io.Copy(io.Discard, DotTerminated(newLineSource(benchSize))); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadHeader(b *testing.B) {
	header := strings.Repeat("Received: from a.example.org by b.example.org;\n\tMon, 1 Jan 2024 00:00:00 +0000\n", 20) +
		"From: a@example.org\nTo: b@example.org, \"Doe, Jane\" <jane@example.org>\nSubject: x\n\n"
	b.SetBytes(int64(len(header)))
	for b.Loop() {
		h, err := ReadHeader(bufio.NewReader(strings.NewReader(header)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Recipients(nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComposeText(b *testing.B) {
	b.SetBytes(benchSize)
	for b.Loop() {
		c := &Composition{From: &mail.Address{Address: "a@example.org"}, Body: newLineSource(benchSize)}
		m, err := c.Open()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComposeAttachment(b *testing.B) {
	path := filepath.Join(b.TempDir(), "a.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(f, newLineSource(benchSize)); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.SetBytes(benchSize)
	for b.Loop() {
		c := &Composition{From: &mail.Address{Address: "a@example.org"}, Attachments: []Attachment{{Path: path, ContentType: "application/octet-stream"}}}
		m, err := c.Open()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, m); err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
}
