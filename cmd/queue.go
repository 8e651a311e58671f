package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/outbox-smtp/outbox/account"
	"github.com/outbox-smtp/outbox/queue"
	"github.com/urfave/cli/v2"
)

// Flags of outbox queue's commands (besides -C/--config and --queue-dir).
const (
	flagQueueJSON      = "json"
	flagQueueAll       = "all"
	flagQueueWait      = "wait"
	flagQueueVerbose   = "verbose"
	flagQueueMessage   = "message"
	flagQueueOlderThan = "older-than"
)

func queueDirFlag() cli.Flag {
	return &cli.StringFlag{Name: flagQueueDir, Usage: "keep the queue in `DIR` (default: queue_dir, $" + account.EnvQueueDir + ", $XDG_STATE_HOME/outbox/queue)"}
}

// queueLocation is where a queue command finds the queue.
type queueLocation struct {
	configFile string // -C/--config
	dir        string // --queue-dir
}

func queueLocationFrom(c *cli.Context) queueLocation {
	return queueLocation{configFile: c.String(flagAcctConfig), dir: c.String(flagQueueDir)}
}

// open opens the queue. Without create, a queue never used is nil.
func (l queueLocation) open(stderr io.Writer, create bool, o *queue.Options) (*queue.Queue, error) {
	opts, err := layerOptions(account.Layer{ConfigFile: l.configFile, QueueDir: l.dir}, stderr)
	if err != nil {
		return nil, err
	}
	a, err := account.ResolveLocal(opts)
	if err != nil {
		return nil, err
	}
	dir, err := queueDir(a)
	if err != nil {
		return nil, err
	}
	return openQueue(dir, create, o)
}

func queueCommand() *cli.Command {
	common := func(more ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{configFileFlag(), queueDirFlag()}, more...)
	}
	return &cli.Command{
		Name:  "queue",
		Usage: "list, show, flush and remove the messages kept for a later try",
		Description: "Messages whose delivery failed temporarily (with --queue auto, the default in\n" +
			"sendmail mode) or that were only queued (--queue always) wait in the queue.\n" +
			"'outbox queue flush', from cron or a systemd timer, sends those that are due.",
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return &UsageError{Err: fmt.Errorf("unknown command \"queue %s\"", c.Args().First()), Hint: "run 'outbox queue --help' for its commands"}
			}
			return cli.ShowSubcommandHelp(c)
		},
		Subcommands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list the queued messages, and those given up on",
				Flags: common(&cli.BoolFlag{Name: flagQueueJSON, Usage: "print the entries as a JSON array"}),
				Action: func(c *cli.Context) error {
					if c.Args().Present() {
						return &UsageError{Err: errors.New("queue list takes no arguments"), Hint: "'outbox queue show ID' shows one entry"}
					}
					return runQueueList(queueLocationFrom(c), c.Bool(flagQueueJSON), c.App.Writer, c.App.ErrWriter)
				},
			},
			{
				Name:      "show",
				Usage:     "show a queued message: its envelope, its state and its header",
				ArgsUsage: "ID",
				Flags: common(
					&cli.BoolFlag{Name: flagQueueJSON, Usage: "print the entry as JSON"},
					&cli.BoolFlag{Name: flagQueueMessage, Usage: "print the message exactly as it will be sent, and nothing else"},
				),
				Action: func(c *cli.Context) error {
					if c.Args().Len() != 1 {
						return &UsageError{Err: errors.New("queue show takes one ID"), Hint: "'outbox queue list' shows the IDs"}
					}
					return runQueueShow(queueLocationFrom(c), c.Args().First(), c.Bool(flagQueueJSON), c.Bool(flagQueueMessage), c.App.Writer, c.App.ErrWriter)
				},
			},
			{
				Name:      "flush",
				Usage:     "send the queued messages that are due, or those named",
				ArgsUsage: "[ID...]",
				Flags: common(
					&cli.BoolFlag{Name: flagQueueAll, Usage: "send every queued message, due or not"},
					&cli.BoolFlag{Name: flagQueueWait, Usage: "wait for a flush running elsewhere to end, instead of leaving the work to it"},
					&cli.BoolFlag{Name: flagQueueJSON, Usage: "print what was done as JSON"},
					&cli.BoolFlag{Name: flagQueueVerbose, Aliases: []string{"v"}, Usage: "print one line per message tried (-vv: with the protocol transcript on standard error)"},
				),
				UseShortOptionHandling: true,
				Action: func(c *cli.Context) error {
					req := flushRequest{
						loc:     queueLocationFrom(c),
						ids:     c.Args().Slice(),
						all:     c.Bool(flagQueueAll),
						wait:    c.Bool(flagQueueWait),
						json:    c.Bool(flagQueueJSON),
						verbose: c.Count(flagQueueVerbose),
					}
					return runQueueFlush(c.Context, req, c.App.Writer, c.App.ErrWriter)
				},
			},
			{
				Name:      "remove",
				Usage:     "remove queued messages, or failed ones, without sending them",
				ArgsUsage: "ID...",
				Flags:     common(),
				Action: func(c *cli.Context) error {
					if c.Args().Len() == 0 {
						return &UsageError{Err: errors.New("queue remove needs an ID"), Hint: "'outbox queue list' shows the IDs"}
					}
					return runQueueRemove(c.Context, queueLocationFrom(c), c.Args().Slice(), c.App.ErrWriter)
				},
			},
			{
				Name:  "purge",
				Usage: "remove the messages, queued or failed, older than a duration",
				Flags: common(&cli.StringFlag{Name: flagQueueOlderThan, Usage: "remove what was queued more than `DURATION` ago (such as 12h or 7d)"}),
				Action: func(c *cli.Context) error {
					if c.Args().Present() {
						return &UsageError{Err: errors.New("queue purge takes no arguments"), Hint: "'outbox queue remove ID...' removes entries by ID"}
					}
					if !c.IsSet(flagQueueOlderThan) {
						return &UsageError{Err: errors.New("queue purge needs --older-than DURATION"), Hint: "--older-than 0s removes everything"}
					}
					d, err := parseAge(c.String(flagQueueOlderThan))
					if err != nil {
						return &UsageError{Err: fmt.Errorf("--older-than: %w", err), Hint: "give a duration such as 90m, 12h or 7d"}
					}
					return runQueuePurge(c.Context, queueLocationFrom(c), d, c.App.Writer, c.App.ErrWriter)
				},
			},
		},
	}
}

// parseAge is time.ParseDuration with days: 7d, 1d12h.
func parseAge(s string) (time.Duration, error) {
	days := time.Duration(0)
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return days + d, nil
}

// entryError turns the queue's errors about an ID into usage errors.
func entryError(id string, err error) error {
	switch {
	case errors.Is(err, queue.ErrBadID):
		return &UsageError{Err: fmt.Errorf("%q is not a queue ID", id), Hint: "'outbox queue list' shows the IDs"}
	case errors.Is(err, queue.ErrNotFound):
		return &UsageError{Err: fmt.Errorf("no queue entry %s", id), Hint: "it may have been sent or removed: 'outbox queue list' shows the queue"}
	}
	return err
}

// allEntries lists the queued entries, then the failed ones.
func allEntries(q *queue.Queue) ([]*queue.Entry, error) {
	if q == nil {
		return nil, nil
	}
	es, err := q.List()
	if err != nil {
		return nil, &inputError{Path: q.Dir(), Err: err}
	}
	failed, err := q.Failed()
	if err != nil {
		return nil, &inputError{Path: q.Dir(), Err: err}
	}
	return append(es, failed...), nil
}

func runQueueList(loc queueLocation, asJSON bool, stdout, stderr io.Writer) error {
	q, err := loc.open(stderr, false, nil)
	if err != nil {
		return err
	}
	es, err := allEntries(q)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, nonNilEntries(es))
	}
	if len(es) == 0 {
		_, err := fmt.Fprintln(stdout, "the queue is empty")
		return err
	}
	printEntryTable(stdout, es, time.Now())
	return nil
}

func nonNilEntries(es []*queue.Entry) []*queue.Entry {
	if es == nil {
		return []*queue.Entry{}
	}
	return es
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printEntryTable prints one line per entry, and under it why it is still
// there.
func printEntryTable(w io.Writer, es []*queue.Entry, now time.Time) {
	rows := [][]string{{"ID", "STATE", "AGE", "SIZE", "TRIES", "NEXT", "FROM", "TO"}}
	for _, e := range es {
		next := "-"
		if e.State == queue.StateQueued {
			next = "now"
			if d := e.NextAttempt.Sub(now); d > 0 {
				next = "in " + shortDuration(d)
			}
		}
		rows = append(rows, []string{
			e.ID, string(e.State), shortDuration(now.Sub(e.Created)), shortSize(e.Size), strconv.Itoa(e.Attempts), next,
			angle(e.From), strings.Join(e.RecipientAddresses(), ", "),
		})
	}
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	for i, r := range rows {
		var b strings.Builder
		for j, c := range r {
			if j == len(r)-1 {
				b.WriteString(c)
				break
			}
			fmt.Fprintf(&b, "%-*s  ", widths[j], c)
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			continue
		}
		e := es[i-1]
		if e.OutcomeUnknown {
			fmt.Fprintln(w, "    possible duplicate: an earlier attempt may have delivered it")
		}
		switch {
		case e.State == queue.StateFailed:
			fmt.Fprintf(w, "    given up: %s\n", oneLine(failureText(e)))
		case e.LastError != "":
			fmt.Fprintf(w, "    last error: %s\n", oneLine(e.LastError))
		}
	}
}

func angle(addr string) string { return "<" + addr + ">" }

// shortDuration is d rounded to its largest unit: 45s, 12m, 3h, 5d.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func shortSize(n int64) string {
	switch {
	case n < 10_000:
		return strconv.FormatInt(n, 10)
	case n < 10_000_000:
		return strconv.FormatInt(n/1000, 10) + "k"
	}
	return strconv.FormatInt(n/1_000_000, 10) + "M"
}

func runQueueShow(loc queueLocation, id string, asJSON, message bool, stdout, stderr io.Writer) error {
	if !queue.ValidID(id) {
		return entryError(id, queue.ErrBadID)
	}
	q, err := loc.open(stderr, false, nil)
	if err != nil {
		return err
	}
	if q == nil {
		return entryError(id, queue.ErrNotFound)
	}
	e, err := q.Get(id)
	if err != nil {
		return entryError(id, err)
	}
	if asJSON {
		return writeJSON(stdout, e)
	}
	m, err := q.Message(id)
	if err != nil {
		return entryError(id, err)
	}
	defer m.Close()
	if message {
		if _, err := io.Copy(stdout, m); err != nil {
			return &inputError{Path: q.Dir(), Err: err}
		}
		return nil
	}
	printEntry(stdout, e)
	fmt.Fprintln(stdout)
	return copyHeader(stdout, m)
}

func printEntry(w io.Writer, e *queue.Entry) {
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-12s %s\n", k+":", v)
		}
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Local().Format("2006-01-02 15:04:05 -0700")
	}
	line("ID", e.ID)
	line("State", string(e.State))
	acct := e.Account
	if acct == "" {
		acct = "(none: the environment or [defaults])"
	}
	line("Account", acct)
	line("From", angle(e.From))
	for _, r := range e.Recipients {
		s := angle(r.Address)
		if r.LastError != "" {
			s += " (" + oneLine(r.LastError) + ")"
		}
		line("To", s)
	}
	for _, r := range e.Delivered {
		s := angle(r.Address) + " at " + when(r.Time)
		if r.ServerID != "" {
			s += ", server id " + r.ServerID
		}
		line("Delivered", s)
	}
	for _, r := range e.Refused {
		line("Refused", angle(r.Address)+": "+oneLine(r.Error))
	}
	line("Message-ID", e.MessageID)
	line("Subject", oneLine(e.Subject))
	line("Size", strconv.FormatInt(e.Size, 10))
	line("Queued", when(e.Created))
	line("Attempts", strconv.Itoa(e.Attempts))
	line("Last try", when(e.LastAttempt))
	if e.State == queue.StateQueued {
		line("Next try", when(e.NextAttempt))
	}
	line("Last error", oneLine(e.LastError))
	if e.OutcomeUnknown {
		line("Duplicate", "possible: an earlier attempt may have delivered it")
	}
	line("Failed", when(e.FailedAt))
	line("Reason", e.Reason)
	if e.State == queue.StateFailed {
		line("Notified", map[bool]string{true: "yes", false: "no"}[e.Notified])
	}
}

// copyHeader copies the header of the message in r, up to its blank line.
func copyHeader(w io.Writer, r io.Reader) error {
	var buf [32 << 10]byte
	var last []byte
	for {
		n, err := r.Read(buf[:])
		chunk := buf[:n]
		joined := append(last, chunk...)
		if i := strings.Index(string(joined), "\r\n\r\n"); i >= 0 {
			_, werr := w.Write(joined[:i+2])
			return werr
		}
		if i := strings.Index(string(joined), "\n\n"); i >= 0 {
			_, werr := w.Write(joined[:i+1])
			return werr
		}
		// Keep the last 3 octets, in which a blank line may start.
		keep := max(len(joined)-3, 0)
		if _, werr := w.Write(joined[:keep]); werr != nil {
			return werr
		}
		last = append([]byte(nil), joined[keep:]...)
		if err == io.EOF {
			_, werr := w.Write(last)
			return werr
		}
		if err != nil {
			return err
		}
	}
}

func runQueueRemove(ctx context.Context, loc queueLocation, ids []string, stderr io.Writer) error {
	for _, id := range ids {
		if !queue.ValidID(id) {
			return entryError(id, queue.ErrBadID)
		}
	}
	q, err := loc.open(stderr, false, nil)
	if err != nil {
		return err
	}
	if q == nil {
		return entryError(ids[0], queue.ErrNotFound)
	}
	for _, id := range ids {
		if err := q.Remove(ctx, id); err != nil {
			if errors.Is(err, queue.ErrNotFound) {
				return entryError(id, err)
			}
			return &inputError{Path: q.Dir(), Err: err}
		}
	}
	return nil
}

func runQueuePurge(ctx context.Context, loc queueLocation, olderThan time.Duration, stdout, stderr io.Writer) error {
	q, err := loc.open(stderr, false, nil)
	if err != nil || q == nil {
		return err
	}
	purged, err := q.Purge(ctx, olderThan)
	for _, e := range purged {
		fmt.Fprintf(stdout, "removed %s (%s, queued %s ago)\n", e.ID, e.State, shortDuration(time.Since(e.Created)))
	}
	if err != nil {
		return &inputError{Path: q.Dir(), Err: err}
	}
	return nil
}

// flushRequest is outbox queue flush's command line (and sendmail -q's).
type flushRequest struct {
	loc       queueLocation
	ids       []string
	all, wait bool
	json      bool
	verbose   int
}

// flushReport is the JSON form of a flush.
type flushReport struct {
	// Busy says another flush was running, and this one did nothing.
	Busy    bool                `json:"busy,omitempty"`
	Entries []flushEntryOutcome `json:"entries"`
}

type flushEntryOutcome struct {
	ID                string             `json:"id"`
	Account           string             `json:"account"`
	MessageID         string             `json:"message_id,omitempty"`
	Result            string             `json:"result"` // delivered, deferred, failed
	Recipients        []flushRcptOutcome `json:"recipients"`
	ServerID          string             `json:"server_id,omitempty"`
	Error             string             `json:"error,omitempty"`
	PossibleDuplicate bool               `json:"possible_duplicate,omitempty"`
	NextAttempt       *time.Time         `json:"next_attempt,omitempty"`
}

type flushRcptOutcome struct {
	Address string `json:"address"`
	Fate    string `json:"fate"` // delivered, deferred, bounced
	Error   string `json:"error,omitempty"`
}

func flushOutcome(r queue.EntryReport) flushEntryOutcome {
	o := flushEntryOutcome{
		ID: r.ID, Account: r.Account, MessageID: r.MessageID, ServerID: r.ServerID,
		PossibleDuplicate: r.PossibleDuplicate, Recipients: []flushRcptOutcome{},
	}
	switch {
	case r.Removed:
		o.Result = "delivered"
	case r.Failed:
		o.Result = "failed"
	default:
		o.Result = "deferred"
		if r.Entry != nil {
			t := r.Entry.NextAttempt
			o.NextAttempt = &t
		}
	}
	if r.Err != nil {
		o.Error = oneLine(r.Err.Error())
	}
	for _, rc := range r.Recipients {
		ro := flushRcptOutcome{Address: rc.Address, Fate: rc.Fate.String()}
		if rc.Err != nil {
			ro.Error = oneLine(rc.Err.Error())
		}
		o.Recipients = append(o.Recipients, ro)
	}
	return o
}

// line is the one-line summary of an attempt, for -v: the recipients
// grouped by what became of them.
func (o flushEntryOutcome) line() string {
	type group struct {
		fate, err string
		addrs     []string
	}
	var groups []*group
	for _, r := range o.Recipients {
		i := slices.IndexFunc(groups, func(g *group) bool { return g.fate == r.Fate && g.err == r.Error })
		if i < 0 {
			groups = append(groups, &group{fate: r.Fate, err: r.Error})
			i = len(groups) - 1
		}
		groups[i].addrs = append(groups[i].addrs, r.Address)
	}
	var parts []string
	for _, g := range groups {
		list := strings.Join(g.addrs, ", ")
		switch {
		case g.fate == "delivered":
			parts = append(parts, "delivered to "+list)
		case g.err != "":
			parts = append(parts, list+" "+g.fate+": "+g.err)
		default:
			parts = append(parts, list+" "+g.fate)
		}
	}
	s := o.ID + ": "
	switch {
	case o.Result == "delivered":
		s += strings.Join(parts, "; ")
	case len(parts) == 0:
		s += o.Result + ": " + o.Error
	default:
		s += o.Result + ": " + strings.Join(parts, "; ")
	}
	if o.NextAttempt != nil {
		s += "; next try at " + o.NextAttempt.Local().Format("2006-01-02 15:04:05")
	}
	if o.PossibleDuplicate {
		s += " (possible duplicate)"
	}
	return s
}

// runQueueFlush sends the queued messages that are due (or those named).
// It exits 0 once the flush ran, whatever became of each message: those
// not sent stay queued, and the log, -v and --json tell. Another flush
// already running is not an error either: it sends what is due.
func runQueueFlush(ctx context.Context, req flushRequest, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	for _, id := range req.ids {
		if !queue.ValidID(id) {
			return entryError(id, queue.ErrBadID)
		}
	}
	logs := newDeliveryLogs(stderr)
	defer logs.Close()
	src := newAccountSource(req.loc.configFile, stderr)
	logs.resolve = src.get
	q, err := req.loc.open(stderr, false, &queue.Options{Log: logs.queueLogger()})
	if err != nil {
		return err
	}
	rep := &flushReport{Entries: []flushEntryOutcome{}}
	if q == nil {
		if len(req.ids) > 0 {
			return entryError(req.ids[0], queue.ErrNotFound)
		}
		if req.json {
			return writeJSON(stdout, rep)
		}
		return nil
	}
	for _, id := range req.ids {
		e, err := q.Get(id)
		if err != nil {
			return entryError(id, err)
		}
		if e.State != queue.StateQueued {
			return &UsageError{Err: fmt.Errorf("queue entry %s was given up on and is not sent again", id), Hint: fmt.Sprintf("'outbox queue show %s' says why", id)}
		}
	}
	d := &queueDialer{src: src, stderr: stderr}
	if req.verbose > 1 {
		d.trace = newTraceWriter(stderr)
	}
	// Named entries are wanted now: wait for a running flush rather than
	// leave them to it.
	fo := &queue.FlushOptions{IDs: req.ids, All: req.all, Wait: req.wait || len(req.ids) > 0}
	qrep, err := flushQueue(ctx, q, d, fo, stderr)
	switch {
	case errors.Is(err, queue.ErrBusy):
		rep.Busy = true
		if req.verbose > 0 {
			fmt.Fprintln(stderr, "outbox: another flush is running; it sends what is due")
		}
		err = nil
	case err != nil && len(req.ids) > 0 && errors.Is(err, queue.ErrNotFound):
		return &UsageError{Err: err, Hint: "it may have been sent or removed: 'outbox queue list' shows the queue"}
	case err != nil:
		err = &inputError{Path: q.Dir(), Err: err}
	}
	if qrep != nil {
		for _, r := range qrep.Entries {
			o := flushOutcome(r)
			rep.Entries = append(rep.Entries, o)
			if req.verbose > 0 && !req.json {
				fmt.Fprintln(stdout, o.line())
			}
		}
	}
	if req.json {
		if jerr := writeJSON(stdout, rep); jerr != nil && err == nil {
			err = jerr
		}
	}
	return err
}

// printMailq lists the queue as sendmail -bp (mailq) does, in the format of
// Postfix's: a header line, then per message its ID, size, arrival time
// and sender, the reason it waits in parentheses, and its recipients.
func printMailq(w io.Writer, es []*queue.Entry) {
	if len(es) == 0 {
		fmt.Fprintln(w, "Mail queue is empty")
		return
	}
	fmt.Fprintf(w, "%-25s %8s %-20s  %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")
	var total int64
	for _, e := range es {
		total += e.Size
		id := e.ID
		if e.State == queue.StateFailed {
			id += "!"
		}
		fmt.Fprintf(w, "%-25s %8d %-20s  %s\n", id, e.Size, e.Created.Local().Format("Mon Jan _2 15:04:05"), e.From)
		why := e.LastError
		if e.State == queue.StateFailed {
			why = failureText(e)
		}
		if why != "" {
			fmt.Fprintf(w, "(%s)\n", oneLine(why))
		}
		for _, r := range e.Recipients {
			fmt.Fprintf(w, "%57s%s\n", "", r.Address)
		}
		fmt.Fprintln(w)
	}
	req := "Requests"
	if len(es) == 1 {
		req = "Request"
	}
	fmt.Fprintf(w, "-- %d Kbytes in %d %s.\n", (total+1023)/1024, len(es), req)
}
