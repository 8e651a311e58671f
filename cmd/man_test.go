package cmd

import (
	"bytes"
	"flag"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

var update = flag.Bool("update", false, "rewrite man/outbox.1 and completions/ from their sources")

const (
	manSource = "../man/outbox.1.md"
	manRoff   = "../man/outbox.1"
)

// TestManPageCurrent: the committed roff is what the Markdown source
// renders to. Run 'go test ./cmd -run TestManPage -update' after editing
// the source.
func TestManPageCurrent(t *testing.T) {
	src, err := os.ReadFile(manSource)
	if err != nil {
		t.Fatal(err)
	}
	roff := md2man.Render(src)
	if *update {
		if err := os.WriteFile(manRoff, roff, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manRoff)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, roff) {
		t.Errorf("%s is stale: run go test ./cmd -run TestManPageCurrent -update", manRoff)
	}
}

// TestManPageListsEveryFlag: every command and every visible flag of the
// command line is in the manual, and so is every exit code.
func TestManPageListsEveryFlag(t *testing.T) {
	src, err := os.ReadFile(manSource)
	if err != nil {
		t.Fatal(err)
	}
	man := string(src)
	app := newApp(strings.NewReader(""), io.Discard, io.Discard, "test")
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			name := strings.TrimSpace(prefix + " " + c.Name)
			if !strings.Contains(man, "**"+c.Name) && !strings.Contains(man, " "+c.Name+"**") {
				t.Errorf("command %q is not in the manual", name)
			}
			for _, f := range c.Flags {
				if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
					continue
				}
				for _, n := range f.Names() {
					if n == "help" || n == "h" {
						continue
					}
					dash := "--"
					if len(n) == 1 {
						dash = "-"
					}
					if !strings.Contains(man, "**"+dash+n+"**") {
						t.Errorf("%s: flag %s%s is not in the manual", name, dash, n)
					}
				}
			}
			walk(name, c.Subcommands)
		}
	}
	walk("", app.Commands)
	for _, code := range []string{"0", "64", "65", "66", "67", "68", "69", "70", "74", "75", "76", "77", "78"} {
		if !strings.Contains(man, "**"+code+"**") {
			t.Errorf("exit code %s is not in the manual", code)
		}
	}
}

// TestCompletionsCurrent: completions/ holds what 'outbox completion SHELL'
// prints.
func TestCompletionsCurrent(t *testing.T) {
	app := newApp(strings.NewReader(""), io.Discard, io.Discard, "test")
	for _, shell := range []string{"bash", "zsh", "fish"} {
		var b bytes.Buffer
		if err := writeCompletion(app, shell, &b); err != nil {
			t.Fatal(err)
		}
		path := "../completions/outbox." + shell
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s is stale: run go test ./cmd -run TestCompletionsCurrent -update", path)
		}
	}
}
