package main

import (
	"os"
	"testing"

	"github.com/outbox-smtp/outbox/cmd"
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
	})
}
