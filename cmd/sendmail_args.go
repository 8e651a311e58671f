package cmd

import (
	"fmt"
	"strings"
)

// sendmailMode is what a sendmail invocation asks for.
type sendmailMode int

const (
	modeDeliver    sendmailMode = iota // -bm, the default: read a message and send it
	modePrintQueue                     // -bp, or invoked as mailq
	modeSMTPStdio                      // -bs: speak SMTP on stdin and stdout
	modeFlushQueue                     // -q
)

// sendmailArgs is a parsed sendmail command line.
type sendmailArgs struct {
	Mode           sendmailMode
	ReadRecipients bool   // -t
	IgnoreDots     bool   // -i, -oi: a lone "." does not end the input
	From           string // -f, -r: envelope sender
	FullName       string // -F: the sender's full name, for an added From:
	DSNNotify      string // -N: never, or success,failure,delay
	DSNReturn      string // -R: full or hdrs
	DSNEnvID       string // -V: envelope id
	Body           string // -B: 7BIT or 8BITMIME
	Config         string // -C: configuration file
	Verbose        int    // -v, repeatable
	QueueArg       string // the argument attached to -q, if any
	Recipients     []string
	Ignored        []string // options accepted for compatibility and ignored
}

// sendmailOptsWithArg are the option letters that take an argument, attached
// (-fuser@example.org) or as the next word (-f user@example.org), as in the
// getopt string of Postfix's and Sendmail's sendmail.
const sendmailOptsWithArg = "ABCFLNORVXbfhopr"

// parseSendmailArgs parses sendmail's option syntax, which urfave/cli
// cannot: single-dash options with attached values (-oi, -fuser, -FCron
// Daemon), grouped flags (-ti), options after recipients, and "--".
func parseSendmailArgs(args []string) (*sendmailArgs, error) {
	a := &sendmailArgs{}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.Recipients = append(a.Recipients, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' {
			a.Recipients = append(a.Recipients, arg)
			continue
		}
		// One word may group several flags: -ti, -vt.
		for j := 1; j < len(arg); j++ {
			opt := arg[j]
			if opt == 'q' {
				// -q takes an optional attached argument (-q30m, -qR...).
				a.Mode = modeFlushQueue
				a.QueueArg = arg[j+1:]
				break
			}
			if strings.IndexByte(sendmailOptsWithArg, opt) < 0 {
				switch opt {
				case 't':
					a.ReadRecipients = true
				case 'i':
					a.IgnoreDots = true
				case 'v':
					a.Verbose++
				case 'm', 'n', 'G', 'U', 'I', 'x':
					a.Ignored = append(a.Ignored, "-"+string(opt))
				default:
					return nil, &UsageError{
						Err:  fmt.Errorf("sendmail: unknown option -%c", opt),
						Hint: "see 'outbox help sendmail' for the options sendmail mode understands",
					}
				}
				continue
			}
			val := arg[j+1:]
			if val == "" {
				if i+1 >= len(args) {
					return nil, &UsageError{Err: fmt.Errorf("sendmail: option -%c needs a value", opt)}
				}
				i++
				val = args[i]
			}
			if err := a.set(opt, val); err != nil {
				return nil, err
			}
			break
		}
	}
	return a, nil
}

func (a *sendmailArgs) set(opt byte, val string) error {
	switch opt {
	case 'f', 'r':
		a.From = val
	case 'F':
		a.FullName = val
	case 'N':
		a.DSNNotify = val
	case 'R':
		a.DSNReturn = val
	case 'V':
		a.DSNEnvID = val
	case 'B':
		switch strings.ToUpper(val) {
		case "7BIT", "8BITMIME":
			a.Body = strings.ToUpper(val)
		default:
			return &UsageError{Err: fmt.Errorf("sendmail: -B takes 7BIT or 8BITMIME, not %q", val)}
		}
	case 'C':
		a.Config = val
	case 'o':
		// -oi is -i; -oem, -oee, -odi, -odb and every other -o option are
		// delivery-mode and error-mode settings of a local MTA that do not
		// apply to a submission client.
		if val == "i" || val == "itrue" {
			a.IgnoreDots = true
		} else {
			a.Ignored = append(a.Ignored, "-o"+val)
		}
	case 'b':
		switch val {
		case "m":
			a.Mode = modeDeliver
		case "p":
			a.Mode = modePrintQueue
		case "s":
			a.Mode = modeSMTPStdio
		default:
			return &UsageError{
				Err:  fmt.Errorf("sendmail: -b%s is not supported", val),
				Hint: "outbox submits mail; it is not a local mail server (-bm sends, -bp lists the queue, -bs speaks SMTP on stdin)",
			}
		}
	case 'A':
		// -Am / -Ac choose sendmail.cf or submit.cf: nothing to choose.
		a.Ignored = append(a.Ignored, "-A"+val)
	default: // L, O, X, h, p
		a.Ignored = append(a.Ignored, "-"+string(opt)+val)
	}
	return nil
}
