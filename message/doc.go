// Package message handles an RFC 5322 message on its way from the user to
// the SMTP client, streamed: whatever its size, only the header section and
// small fixed buffers are held in memory.
//
// For a message given on input (outbox send, sendmail -t):
//   - [ReadHeader] reads the header section, bounded, keeping each field's
//     bytes; the body stays in the reader.
//   - [Header.Recipients] extracts sendmail -t recipients (To, Cc, Bcc, or
//     the newest Resent- block, RFC 5322 §3.6.6), and [Header.Addresses]
//     parses any address field, tolerating groups, UTF-8 (RFC 6532) and bare
//     local names, which a [Qualifier] qualifies through aliases
//     ([LoadAliases]) or a default domain.
//   - [Prepare.Apply] removes Bcc, qualifies bare local names in address
//     fields if asked, and adds Date, Message-ID and From when missing,
//     leaving every other field byte for byte.
//   - [NewReader] joins the header and the rest of the input for the smtp
//     package, and [DotTerminated] ends the input at a line "." as sendmail
//     does without -i.
//
// For a message composed from flags, [Composition.Open] produces a MIME
// message (RFC 2045–2047, RFC 2231) with RFC 2047 encoded header text,
// 7bit, quoted-printable or base64 content and attachments streamed from
// their files.
//
// Line endings: fields that were read keep the input's line endings; every
// line this package writes ends in CRLF. The smtp package turns the whole
// message into CRLF lines and adds DATA transparency, so neither is done
// here.
package message
