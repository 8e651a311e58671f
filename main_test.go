package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/outbox-smtp/outbox/cmd"
	"github.com/outbox-smtp/outbox/sink/sinktest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"outbox": func() { os.Exit(cmd.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, "test")) },
	})
}

func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/config")
			env.Setenv("NO_COLOR", "1")
			return nil
		},
		Cmds: scriptCommands(),
	})
}

// scriptCommands are the custom commands of the scripts: sink and deliver
// (see package sinktest), and outboxexit.
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := sinktest.Commands()
	cmds["outboxexit"] = cmdOutboxExit
	return cmds
}

// outboxexit N args... runs outbox with args, the script's environment and
// stdin, and checks that it exits with status exactly N. Its output is then
// checked with stdout and stderr, as after exec.
func cmdOutboxExit(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! outboxexit")
	}
	if len(args) < 1 {
		ts.Fatalf("usage: outboxexit N args...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("usage: outboxexit N args...: %q is not an exit status", args[0])
	}
	got := 0
	if err := ts.Exec("outbox", args[1:]...); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			ts.Fatalf("outbox: %v", err)
		}
		got = exit.ExitCode()
	}
	if got != want {
		ts.Fatalf("outbox exited with status %d, want %d", got, want)
	}
}
