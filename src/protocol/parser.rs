//! Streaming, zero-copy decoder for the operations a NATS client sends.
//!
//! The reader appends socket (or WebSocket) bytes to a `BytesMut` and calls
//! [`Decoder::decode`] until it returns `Ok(None)`. Every `Bytes` in a
//! [`ClientOp`] is a slice of that buffer, never a copy. The rules follow
//! nats-server 2.15's `parser.go` and `client.go` as a client observes them:
//! verbs in any case, arguments split on runs of spaces and tabs, lines ending
//! in `\n` with an optional `\r`, the control-line limit counted on the
//! arguments only and enforced before a line is complete, the payload limit
//! enforced before the payload arrives, and a payload that must be followed by
//! `\r\n`.

use bytes::{Buf, Bytes, BytesMut};
use memchr::{memchr, memchr2, memchr3};

/// One operation sent by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp {
    /// `CONNECT <json>`: the raw JSON (blanks around it trimmed), left for the
    /// connection layer to deserialize.
    Connect(Bytes),
    /// `PUB <subject> [reply] <size>` followed by `size` payload bytes.
    Pub {
        /// Subject the message is published to (not validated here).
        subject: Bytes,
        /// Optional reply subject.
        reply: Option<Bytes>,
        /// Message body, without the trailing `\r\n`.
        payload: Bytes,
    },
    /// `HPUB <subject> [reply] <hdr_len> <total_len>` followed by headers and payload.
    HPub {
        /// Subject the message is published to (not validated here).
        subject: Bytes,
        /// Optional reply subject.
        reply: Option<Bytes>,
        /// The first `hdr_len` bytes (`NATS/1.0...\r\n\r\n`), not parsed here.
        headers: Bytes,
        /// The remaining `total_len - hdr_len` bytes.
        payload: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Subject filter (may contain wildcards; not validated here).
        subject: Bytes,
        /// Optional queue group.
        queue: Option<Bytes>,
        /// Client-chosen subscription id, opaque.
        sid: Bytes,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id to remove.
        sid: Bytes,
        /// Auto-unsubscribe after this many messages. `None` when absent and, as
        /// in nats-server (`parseSize` returning -1), when it is not 1-9 decimal
        /// digits: nats-server then unsubscribes at once instead of failing.
        /// nats-server also unsubscribes at once for `Some(0)`.
        max: Option<u64>,
    },
    /// `PING`: the server must answer `PONG`.
    Ping,
    /// `PONG`: the answer to a server `PING`.
    Pong,
    /// `+OK`: clients may echo it; nats-server accepts and ignores it.
    Ok,
    /// `-ERR <text>`: the raw argument (blanks around it trimmed, quotes kept).
    Err(Bytes),
}

/// Why the decoder rejected the input. Every variant is fatal: after sending
/// [`ProtocolError::client_text`] (when [`ProtocolError::sends_err`] says so)
/// the connection must be closed and the decoder dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Unknown verb, a verb not followed by a blank, an empty line, or a payload
    /// not followed by `\r\n` (nats-server's `parseErr`).
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// The arguments of a control line are longer than `max_control_line`.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// A PUB/HPUB announced more payload bytes than `max_payload`.
    #[error("maximum payload exceeded: {size} vs {max}")]
    MaxPayload {
        /// The size announced on the control line.
        size: usize,
        /// The configured limit.
        max: usize,
    },
    /// PUB/HPUB/SUB/UNSUB with the wrong number of arguments or a bad size
    /// (nats-server's "processPub Parse Error" family). nats-server closes the
    /// connection *without* sending `-ERR` for these, so a client reconnects
    /// instead of treating it as a server error: see [`ProtocolError::sends_err`].
    #[error("malformed {verb} arguments: {reason}")]
    BadArguments {
        /// The verb whose arguments were rejected.
        verb: &'static str,
        /// What was wrong, for logs.
        reason: &'static str,
    },
}

impl ProtocolError {
    /// The text nats-server puts inside -ERR '...'.
    ///
    /// For [`ProtocolError::BadArguments`] nats-server sends nothing; this then
    /// returns a descriptive text for logs, and [`ProtocolError::sends_err`] is false.
    pub fn client_text(&self) -> &'static str {
        match self {
            Self::UnknownOperation => "Unknown Protocol Operation",
            Self::MaxControlLine => "maximum control line exceeded",
            Self::MaxPayload { .. } => "Maximum Payload Violation",
            Self::BadArguments { .. } => "Protocol Violation",
        }
    }

    /// Whether the connection must be closed after sending the error.
    pub fn is_fatal(&self) -> bool {
        true
    }

    /// Whether nats-server sends `-ERR '<client_text>'` before closing. It does
    /// not for malformed arguments, and clients behave differently: nats.go
    /// gives up on an unknown `-ERR` but reconnects after a silent close.
    pub fn sends_err(&self) -> bool {
        !matches!(self, Self::BadArguments { .. })
    }
}

/// The verbs a client may send. MSG/HMSG and the route/leaf verbs are refused
/// from clients by nats-server (`parser.go` OP_START), so they are absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Connect,
    Info,
    Pub,
    HPub,
    Sub,
    Unsub,
    Ping,
    Pong,
    Ok,
    Err,
}

/// What may follow a verb.
#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    /// A space or tab, then arguments (PUB, HPUB, SUB, UNSUB, -ERR).
    Blank,
    /// Arguments, blanks optional (`CONNECT{...}` is accepted by nats-server).
    Optional,
    /// Nothing that matters: everything up to `\n` is ignored (PING, PONG, +OK).
    Ignored,
}

impl Verb {
    fn spelling(self) -> &'static [u8] {
        match self {
            Verb::Connect => b"connect",
            Verb::Info => b"info",
            Verb::Pub => b"pub",
            Verb::HPub => b"hpub",
            Verb::Sub => b"sub",
            Verb::Unsub => b"unsub",
            Verb::Ping => b"ping",
            Verb::Pong => b"pong",
            Verb::Ok => b"+ok",
            Verb::Err => b"-err",
        }
    }

    fn after(self) -> After {
        match self {
            Verb::Connect | Verb::Info => After::Optional,
            Verb::Ping | Verb::Pong | Verb::Ok => After::Ignored,
            Verb::Pub | Verb::HPub | Verb::Sub | Verb::Unsub | Verb::Err => After::Blank,
        }
    }
}

/// Result of matching the start of a line against the verbs.
enum Prefix {
    /// A verb, and how many bytes it (plus a required first blank) occupies.
    Verb(Verb, usize),
    /// Valid so far but too short to decide.
    Partial,
    /// Cannot be any verb.
    Invalid,
}

/// Identifies the verb at the start of `line` (which holds no `\n`).
fn match_verb(line: &[u8]) -> Prefix {
    let Some(&first) = line.first() else {
        return Prefix::Partial;
    };
    // '+' and '-' are matched before case folding.
    let verb = match first {
        b'+' => Verb::Ok,
        b'-' => Verb::Err,
        _ => match first.to_ascii_lowercase() {
            b'c' => Verb::Connect,
            b'i' => Verb::Info,
            b'h' => Verb::HPub,
            b's' => Verb::Sub,
            b'u' => Verb::Unsub,
            b'p' => match line.get(1).map(u8::to_ascii_lowercase) {
                None => return Prefix::Partial,
                Some(b'u') => Verb::Pub,
                Some(b'i') => Verb::Ping,
                Some(b'o') => Verb::Pong,
                Some(_) => return Prefix::Invalid,
            },
            _ => return Prefix::Invalid,
        },
    };
    let spelling = verb.spelling();
    let n = spelling.len();
    let seen = line.len().min(n);
    if !line[..seen].eq_ignore_ascii_case(&spelling[..seen]) {
        return Prefix::Invalid;
    }
    if line.len() < n {
        return Prefix::Partial;
    }
    match verb.after() {
        After::Optional | After::Ignored => Prefix::Verb(verb, n),
        After::Blank => match line.get(n) {
            None => Prefix::Partial,
            Some(b' ' | b'\t') => Prefix::Verb(verb, n + 1),
            Some(_) => Prefix::Invalid,
        },
    }
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Number of spaces and tabs at the start of `s`.
fn leading_blanks(s: &[u8]) -> usize {
    s.iter().take_while(|&&b| is_blank(b)).count()
}

/// Length of `s` without its trailing spaces and tabs.
fn trimmed_len(s: &[u8]) -> usize {
    s.len() - s.iter().rev().take_while(|&&b| is_blank(b)).count()
}

/// A byte range inside the decoder's input buffer.
type Span = (usize, usize);

/// Splits `s` into at most `N` fields separated by runs of separators and
/// returns their spans offset by `base`, or `None` if there are more than `N`.
/// PUB/HPUB split on space and tab; SUB/UNSUB also on `\r` (nats-server's
/// `splitArg`), hence `with_cr`.
fn split_fields<const N: usize>(
    s: &[u8],
    base: usize,
    with_cr: bool,
) -> Option<([Span; N], usize)> {
    let is_sep = |b: u8| is_blank(b) || (with_cr && b == b'\r');
    let mut out = [(0, 0); N];
    let mut count = 0;
    let mut i = 0;
    while i < s.len() {
        if is_sep(s[i]) {
            i += 1;
            continue;
        }
        let rest = &s[i..];
        let len = if with_cr {
            memchr3(b' ', b'\t', b'\r', rest)
        } else {
            memchr2(b' ', b'\t', rest)
        }
        .unwrap_or(rest.len());
        let slot = out.get_mut(count)?;
        *slot = (base + i, base + i + len);
        count += 1;
        i += len;
    }
    Some((out, count))
}

/// nats-server's `parseSize`: 1 to 9 decimal digits, nothing else. The digit
/// cap is what makes sizes of 10+ digits ("overflow") an error.
fn parse_size(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + usize::from(b - b'0'))
    })
}

fn bad(verb: &'static str, reason: &'static str) -> ProtocolError {
    ProtocolError::BadArguments { verb, reason }
}

/// A PUB/HPUB whose control line is parsed; offsets are relative to the front
/// of the buffer, which still holds the control line.
#[derive(Debug, Clone, Copy)]
struct Pending {
    subject: Span,
    reply: Option<Span>,
    /// Offset of the first payload byte (just past the control line's `\n`).
    body: usize,
    /// Header length for HPUB.
    headers: Option<usize>,
    /// Total payload length (headers included).
    size: usize,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// The buffer starts an op; its first `scanned` bytes hold no `\n`.
    Line { scanned: usize },
    /// The verb (and blanks) of an over-long line were consumed, as nats-server
    /// does not buffer them; the buffer holds blanks or the arguments.
    Args { verb: Verb, scanned: usize },
    /// PING/PONG/+OK was consumed; bytes up to the next `\n` are dropped.
    Discard { verb: Verb },
    /// Control line parsed, waiting for payload and `\r\n`.
    Payload(Pending),
}

/// What one step of the state machine produced.
enum Step {
    Op(ClientOp),
    NeedMore,
    /// A line was consumed without producing an op (client INFO).
    Again,
}

/// Resumable NATS client-protocol decoder for one connection.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_control_line: usize,
    max_payload: usize,
    state: State,
    needed: Option<usize>,
}

impl Decoder {
    /// Creates a decoder enforcing nats-server's `max_control_line` (applied to
    /// a line's arguments, as nats-server does) and `max_payload` (applied to
    /// PUB sizes and HPUB total sizes).
    pub fn new(max_control_line: usize, max_payload: usize) -> Self {
        Self {
            max_control_line,
            max_payload,
            state: State::Line { scanned: 0 },
            needed: None,
        }
    }

    /// Parses at most one op from the front of `buf`, consuming its bytes. Ok(None) = need more bytes.
    ///
    /// Bytes nats-server never buffers (blanks between a verb and an over-long
    /// argument list, text after PING/PONG/+OK) may be consumed early. After an
    /// error the connection must be closed; the decoder is reset but the
    /// stream position is lost.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtocolError> {
        let result = self.run(buf);
        if result.is_err() {
            self.state = State::Line { scanned: 0 };
            self.needed = None;
        }
        result
    }

    /// Changes the payload limit for the ops that follow: nats-server lowers a
    /// connection's limit after CONNECT when the user or account has its own.
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Changes the longest control line accepted (a reload changed it).
    pub fn set_max_control_line(&mut self, max_control_line: usize) {
        self.max_control_line = max_control_line;
    }

    /// How many more bytes the op in progress needs (so the reader can reserve capacity for a big payload), if known.
    ///
    /// Known only while waiting for a PUB/HPUB payload, and counted from the
    /// buffer seen by the last [`Decoder::decode`] call (trailing `\r\n` included).
    pub fn bytes_needed(&self) -> Option<usize> {
        self.needed
    }

    fn run(&mut self, buf: &mut BytesMut) -> Result<Option<ClientOp>, ProtocolError> {
        loop {
            let step = match self.state {
                State::Line { scanned } => self.line(buf, None, scanned)?,
                State::Args { verb, scanned } => self.line(buf, Some(verb), scanned)?,
                State::Discard { verb } => self.discard(buf, verb),
                State::Payload(pending) => self.payload(buf, pending)?,
            };
            match step {
                Step::Op(op) => return Ok(Some(op)),
                Step::NeedMore => return Ok(None),
                Step::Again => {}
            }
        }
    }

    /// Looks for the end of the control line, resuming where the last call stopped.
    fn line(
        &mut self,
        buf: &mut BytesMut,
        verb: Option<Verb>,
        scanned: usize,
    ) -> Result<Step, ProtocolError> {
        let from = scanned.min(buf.len());
        match memchr(b'\n', &buf[from..]) {
            Some(offset) => {
                self.state = State::Line { scanned: 0 };
                self.control_line(buf, verb, from + offset)
            }
            None => self.partial_line(buf, verb),
        }
    }

    /// Checks an incomplete line: a byte that cannot start a verb fails at once
    /// (nats-server fails on the byte), and so do arguments already longer than
    /// `max_control_line`, so a peer cannot make us buffer an endless line.
    fn partial_line(
        &mut self,
        buf: &mut BytesMut,
        verb: Option<Verb>,
    ) -> Result<Step, ProtocolError> {
        let verb = match verb {
            Some(verb) => verb,
            None => {
                let (verb, skip) = match match_verb(buf) {
                    Prefix::Invalid => return Err(ProtocolError::UnknownOperation),
                    Prefix::Partial => {
                        self.state = State::Line { scanned: buf.len() };
                        return Ok(Step::NeedMore);
                    }
                    Prefix::Verb(verb, skip) => (verb, skip),
                };
                // The arguments are shorter than the buffered line, so nothing
                // can be over the limit yet: the common case stops here.
                if buf.len() <= self.max_control_line {
                    self.state = State::Line { scanned: buf.len() };
                    return Ok(Step::NeedMore);
                }
                if verb.after() == After::Ignored {
                    buf.clear();
                    self.state = State::Discard { verb };
                    return Ok(Step::NeedMore);
                }
                buf.advance(skip);
                verb
            }
        };
        buf.advance(leading_blanks(buf));
        let arg_len = buf.len() - usize::from(buf.last() == Some(&b'\r'));
        if arg_len > self.max_control_line {
            return Err(ProtocolError::MaxControlLine);
        }
        self.state = State::Args {
            verb,
            scanned: buf.len(),
        };
        Ok(Step::NeedMore)
    }

    /// Drops the rest of a PING/PONG/+OK line that grew past the limit.
    fn discard(&mut self, buf: &mut BytesMut, verb: Verb) -> Step {
        match memchr(b'\n', buf) {
            Some(nl) => {
                buf.advance(nl + 1);
                self.state = State::Line { scanned: 0 };
                Step::Op(match verb {
                    Verb::Ping => ClientOp::Ping,
                    Verb::Pong => ClientOp::Pong,
                    _ => ClientOp::Ok,
                })
            }
            None => {
                buf.clear();
                Step::NeedMore
            }
        }
    }

    /// Parses the complete line `buf[..nl]`. `verb` is set when the verb was
    /// already consumed (the line then holds only blanks and arguments).
    fn control_line(
        &mut self,
        buf: &mut BytesMut,
        verb: Option<Verb>,
        nl: usize,
    ) -> Result<Step, ProtocolError> {
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        let (verb, skip) = match verb {
            Some(verb) => (verb, 0),
            None => match match_verb(&buf[..end]) {
                Prefix::Verb(verb, skip) => (verb, skip),
                Prefix::Partial | Prefix::Invalid => return Err(ProtocolError::UnknownOperation),
            },
        };
        let bare = match verb {
            Verb::Ping => Some(ClientOp::Ping),
            Verb::Pong => Some(ClientOp::Pong),
            Verb::Ok => Some(ClientOp::Ok),
            _ => None,
        };
        if let Some(op) = bare {
            buf.advance(nl + 1);
            return Ok(Step::Op(op));
        }
        let start = skip + leading_blanks(&buf[skip..end]);
        if end - start > self.max_control_line {
            return Err(ProtocolError::MaxControlLine);
        }
        match verb {
            Verb::Pub => {
                let (f, n) = split_fields::<3>(&buf[start..end], start, false)
                    .ok_or_else(|| bad("PUB", "too many arguments"))?;
                let (subject, reply, size) = match n {
                    2 => (f[0], None, f[1]),
                    3 => (f[0], Some(f[1]), f[2]),
                    _ => return Err(bad("PUB", "too few arguments")),
                };
                let size = parse_size(&buf[size.0..size.1])
                    .ok_or_else(|| bad("PUB", "bad or missing size"))?;
                self.start_payload(buf, subject, reply, None, size, nl)
            }
            Verb::HPub => {
                let (f, n) = split_fields::<4>(&buf[start..end], start, false)
                    .ok_or_else(|| bad("HPUB", "too many arguments"))?;
                let (subject, reply, hdr, size) = match n {
                    3 => (f[0], None, f[1], f[2]),
                    4 => (f[0], Some(f[1]), f[2], f[3]),
                    _ => return Err(bad("HPUB", "too few arguments")),
                };
                let hdr = parse_size(&buf[hdr.0..hdr.1])
                    .ok_or_else(|| bad("HPUB", "bad or missing header size"))?;
                let size = parse_size(&buf[size.0..size.1])
                    .ok_or_else(|| bad("HPUB", "bad or missing total size"))?;
                if hdr > size {
                    return Err(bad("HPUB", "header size larger than total size"));
                }
                self.start_payload(buf, subject, reply, Some(hdr), size, nl)
            }
            Verb::Sub => {
                let (f, n) = split_fields::<3>(&buf[start..end], start, true)
                    .ok_or_else(|| bad("SUB", "too many arguments"))?;
                let (subject, queue, sid) = match n {
                    2 => (f[0], None, f[1]),
                    3 => (f[0], Some(f[1]), f[2]),
                    _ => return Err(bad("SUB", "too few arguments")),
                };
                let line = buf.split_to(nl + 1).freeze();
                Ok(Step::Op(ClientOp::Sub {
                    subject: line.slice(subject.0..subject.1),
                    queue: queue.map(|q| line.slice(q.0..q.1)),
                    sid: line.slice(sid.0..sid.1),
                }))
            }
            Verb::Unsub => {
                let (f, n) = split_fields::<2>(&buf[start..end], start, true)
                    .ok_or_else(|| bad("UNSUB", "too many arguments"))?;
                if n == 0 {
                    return Err(bad("UNSUB", "missing sid"));
                }
                let max = (n == 2)
                    .then(|| parse_size(&buf[f[1].0..f[1].1]))
                    .flatten()
                    .map(|m| m as u64);
                let sid = take_span(buf, f[0], nl + 1);
                Ok(Step::Op(ClientOp::Unsub { sid, max }))
            }
            Verb::Connect | Verb::Err => {
                let text_end = start + trimmed_len(&buf[start..end]);
                let text = take_span(buf, (start, text_end), nl + 1);
                Ok(Step::Op(if verb == Verb::Connect {
                    ClientOp::Connect(text)
                } else {
                    ClientOp::Err(text)
                }))
            }
            // nats-server unmarshals a client's INFO and otherwise ignores it.
            Verb::Info | Verb::Ping | Verb::Pong | Verb::Ok => {
                buf.advance(nl + 1);
                Ok(Step::Again)
            }
        }
    }

    /// Checks the payload limit, then takes the payload now if it is all
    /// there (the fast path) or waits for it without rescanning the line.
    fn start_payload(
        &mut self,
        buf: &mut BytesMut,
        subject: Span,
        reply: Option<Span>,
        headers: Option<usize>,
        size: usize,
        nl: usize,
    ) -> Result<Step, ProtocolError> {
        if size > self.max_payload {
            return Err(ProtocolError::MaxPayload {
                size,
                max: self.max_payload,
            });
        }
        self.payload(
            buf,
            Pending {
                subject,
                reply,
                body: nl + 1,
                headers,
                size,
            },
        )
    }

    /// Completes a PUB/HPUB once payload and `\r\n` are buffered. A wrong byte
    /// where `\r` or `\n` must be fails as soon as it arrives, like nats-server.
    fn payload(&mut self, buf: &mut BytesMut, p: Pending) -> Result<Step, ProtocolError> {
        let body_end = p.body + p.size;
        if buf.len() < body_end + 2 {
            if buf.len() > body_end && buf[body_end] != b'\r' {
                return Err(ProtocolError::UnknownOperation);
            }
            self.state = State::Payload(p);
            self.needed = Some(body_end + 2 - buf.len());
            return Ok(Step::NeedMore);
        }
        if buf[body_end] != b'\r' || buf[body_end + 1] != b'\n' {
            return Err(ProtocolError::UnknownOperation);
        }
        self.state = State::Line { scanned: 0 };
        self.needed = None;
        let mut frame = buf.split_to(body_end).freeze();
        buf.advance(2);
        let mut payload = frame.split_off(p.body);
        let reply = p.reply.map(|(a, b)| frame.slice(a..b));
        frame.truncate(p.subject.1);
        frame.advance(p.subject.0);
        let subject = frame;
        Ok(Step::Op(match p.headers {
            None => ClientOp::Pub {
                subject,
                reply,
                payload,
            },
            Some(hdr) => {
                let headers = payload.split_to(hdr);
                ClientOp::HPub {
                    subject,
                    reply,
                    headers,
                    payload,
                }
            }
        }))
    }
}

/// Splits `consumed` bytes off the buffer and returns the `span` within them,
/// with a single reference-count operation.
fn take_span(buf: &mut BytesMut, span: Span, consumed: usize) -> Bytes {
    let mut line = buf.split_to(consumed).freeze();
    line.truncate(span.1);
    line.advance(span.0);
    line
}

#[cfg(test)]
mod tests {
    //! Streaming details: when errors fire, what is buffered, what is shared.
    //! The accepted and rejected forms are tabled in `protocol::tests`.
    use super::*;

    const MCL: usize = 4096;

    fn feed(
        dec: &mut Decoder,
        buf: &mut BytesMut,
        more: &[u8],
    ) -> Result<Option<ClientOp>, ProtocolError> {
        buf.extend_from_slice(more);
        dec.decode(buf)
    }

    #[test]
    fn bad_verb_fails_on_arrival() {
        // parser.go fails on the first byte that cannot continue a verb.
        let (mut dec, mut buf) = (Decoder::new(MCL, 100), BytesMut::new());
        assert_eq!(feed(&mut dec, &mut buf, b"PU"), Ok(None));
        assert_eq!(
            feed(&mut dec, &mut buf, b"X"),
            Err(ProtocolError::UnknownOperation)
        );
        let (mut dec, mut buf) = (Decoder::new(MCL, 100), BytesMut::new());
        assert_eq!(
            feed(&mut dec, &mut buf, b"PUB\r"),
            Err(ProtocolError::UnknownOperation)
        );
    }

    #[test]
    fn bad_payload_end_fails_on_arrival() {
        let (mut dec, mut buf) = (Decoder::new(MCL, 100), BytesMut::new());
        assert_eq!(feed(&mut dec, &mut buf, b"PUB a 3\r\nab"), Ok(None));
        assert_eq!(
            feed(&mut dec, &mut buf, b"cX"),
            Err(ProtocolError::UnknownOperation)
        );
    }

    #[test]
    fn max_payload_fails_before_payload() {
        let too_big = Err(ProtocolError::MaxPayload { size: 11, max: 10 });
        let mut dec = Decoder::new(MCL, 100);
        dec.set_max_payload(10);
        assert_eq!(
            feed(&mut dec, &mut BytesMut::new(), b"PUB a 11\r\n"),
            too_big
        );
        let (mut dec, mut buf) = (Decoder::new(MCL, 10), BytesMut::new());
        assert_eq!(feed(&mut dec, &mut buf, b"PUB a 11\r\n"), too_big);
        let (mut dec, mut buf) = (Decoder::new(MCL, 10), BytesMut::new());
        assert_eq!(feed(&mut dec, &mut buf, b"HPUB a 2 11\r\n"), too_big);
        let (mut dec, mut buf) = (Decoder::new(MCL, 10), BytesMut::new());
        let at_limit = feed(&mut dec, &mut buf, b"PUB a 10\r\n0123456789\r\n");
        assert!(matches!(at_limit, Ok(Some(ClientOp::Pub { .. }))));
    }

    #[test]
    fn control_line_limit_counts_arguments_only() {
        // overMaxControlLineLimit measures the argument: no verb, blanks or CRLF.
        let line = b"PUB    aaaaaaaaaaaaaa 0\r\n\r\n"; // argument: 16 bytes
        let ok = Decoder::new(16, 100).decode(&mut BytesMut::from(&line[..]));
        assert!(matches!(ok, Ok(Some(ClientOp::Pub { .. }))));
        let over = Decoder::new(15, 100).decode(&mut BytesMut::from(&line[..]));
        assert_eq!(over, Err(ProtocolError::MaxControlLine));
        // PING has no argument, so no limit applies.
        let ping = Decoder::new(2, 100).decode(&mut BytesMut::from(&b"PING 123456\r\n"[..]));
        assert_eq!(ping, Ok(Some(ClientOp::Ping)));
    }

    #[test]
    fn waits_for_payload_and_reports_bytes_needed() {
        let (mut dec, mut buf) = (Decoder::new(MCL, 100), BytesMut::new());
        assert_eq!(feed(&mut dec, &mut buf, b"PUB a 10\r\n0123"), Ok(None));
        assert_eq!(dec.bytes_needed(), Some(8));
        assert_eq!(feed(&mut dec, &mut buf, b"456789\r"), Ok(None));
        assert_eq!(dec.bytes_needed(), Some(1));
        let op = feed(&mut dec, &mut buf, b"\nPI");
        let payload = Bytes::from_static(b"0123456789");
        let subject = Bytes::from_static(b"a");
        assert_eq!(
            op,
            Ok(Some(ClientOp::Pub {
                subject,
                reply: None,
                payload
            }))
        );
        assert_eq!(dec.bytes_needed(), None);
        assert_eq!(dec.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"PI");
    }

    #[test]
    fn slices_share_the_input_buffer() {
        let mut buf = BytesMut::from(&b"PUB subj rep 5\r\nhello\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let op = Decoder::new(MCL, 100).decode(&mut buf);
        let Ok(Some(ClientOp::Pub {
            subject,
            reply: Some(reply),
            payload,
        })) = op
        else {
            panic!("not a PUB with reply: {op:?}");
        };
        assert_eq!(subject.as_ptr() as usize, base + 4);
        assert_eq!(reply.as_ptr() as usize, base + 9);
        assert_eq!(payload.as_ptr() as usize, base + 16);
    }

    #[test]
    fn error_texts_and_fatality() {
        use ProtocolError::*;
        assert_eq!(UnknownOperation.client_text(), "Unknown Protocol Operation");
        assert_eq!(
            MaxControlLine.client_text(),
            "maximum control line exceeded"
        );
        assert_eq!(
            MaxPayload { size: 2, max: 1 }.client_text(),
            "Maximum Payload Violation"
        );
        assert!(UnknownOperation.sends_err() && MaxControlLine.sends_err());
        let silent = bad("PUB", "x");
        assert!(silent.is_fatal() && !silent.sends_err());
    }
}
