// Package queue keeps messages that could not be delivered yet and sends
// them later, without a resident daemon: a flush runs when outbox is next
// invoked, from cron, or from a systemd timer.
//
// # Storage
//
// A queue is a directory owned by one user (by default
// $XDG_STATE_HOME/outbox/queue, see [DefaultDir]), laid out like a Maildir:
//
//	lock                 flock(2)ed by every flush, remove and purge
//	tmp/ID/              an entry being written (a [Spool]), or being removed
//	entries/ID/message   the message, exactly the octets to send
//	entries/ID/envelope.json
//	failed/ID/...        entries given up on, kept for a notice and inspection
//	delivered.jsonl      recently accepted messages (the duplicate guard)
//
// Every entry is a directory. It is built in tmp/: the message is written
// and fsynced, then envelope.json is written and fsynced, then the directory
// is fsynced and renamed into entries/, and entries/ is fsynced. The rename
// is the commit point: a crash at any instant leaves either no entry in
// entries/ or a complete one; an abandoned directory in tmp/ is removed by a
// later flush. envelope.json is later replaced only as a whole (written
// beside, fsynced, renamed over), so it is never seen half written.
//
// envelope.json is an [Entry] as JSON with a "version" field
// (currently 1). A reader refuses a version newer than it knows.
//
// # Exactly once
//
// A flush holds an exclusive lock on the queue for its whole run, so two
// flushes never send the same entry; enqueueing needs no lock, since a new
// entry appears atomically and a running flush only sends what it listed.
//
// The one window in which a message can be delivered twice is after the
// end of its data went to the server and before the entry records the
// server's answer. The flush engine marks the entry (data_sent) the moment
// the message has been read to its end, before the client can send the
// final dot, and appends every acceptance to delivered.jsonl before it
// updates the entry. A later flush that finds the mark resolves it: with a
// matching record the accepted recipients are known and not sent again;
// without one the entry is flagged outcome_unknown and its next delivery is
// reported as a possible duplicate.
package queue
