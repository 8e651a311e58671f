// Command outbox submits mail over SMTP: a sendmail replacement with account
// profiles, a protocol prober and a local capture server in one binary.
package main

import (
	"os"

	"github.com/outbox-smtp/outbox/cmd"
)

// version is set at build time with -ldflags "-X main.version=…"; when it is
// empty, cmd falls back to the module version from the build information.
var version string

func main() {
	os.Exit(cmd.Main(os.Args, os.Stdin, os.Stdout, os.Stderr, version))
}
