//! NATS header blocks (`NATS/1.0[ status]\r\nName: value\r\n...\r\n\r\n`): parsing one
//! leniently and writing one. Every front-end, JetStream and the plugin chain read and write
//! the same format.

use bytes::{BufMut, Bytes, BytesMut};

/// A NATS header block, parsed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NatsHeaders {
    /// The status code of the first line (`NATS/1.0 503`), if any.
    pub status: Option<u16>,
    /// `Name: value` lines in order; names as sent.
    pub entries: Vec<(String, Bytes)>,
}

/// Parses a raw header block leniently: malformed lines are skipped, never fatal, because the
/// block was already accepted by the router and only needs to be shown.
pub fn parse_nats(block: &Bytes) -> NatsHeaders {
    let mut out = NatsHeaders::default();
    let mut lines = block
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    if let Some(first) = lines.next() {
        let status = first.strip_prefix(b"NATS/1.0").unwrap_or_default();
        let code = status.trim_ascii().split(|b| *b == b' ').next();
        out.status = code
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse().ok());
    }
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.is_empty() {
            continue;
        }
        let value = line[colon + 1..].trim_ascii();
        out.entries.push((
            String::from_utf8_lossy(name).into_owned(),
            block.slice_ref(value),
        ));
    }
    out
}

/// Whether `name` may be a header name: an RFC 9110 token (letters, digits and
/// ``!#$%&'*+-.^_`|~``), which is what NATS clients parse (nats.go reads headers as MIME
/// headers and rejects a message whose header names are not tokens).
pub fn is_valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b))
}

/// Whether `value` may be a header value: anything but CR and LF, which would end the line.
pub fn is_valid_value(value: &[u8]) -> bool {
    !value.iter().any(|b| matches!(b, b'\r' | b'\n'))
}

/// Writes `NATS/1.0\r\n`, one `Name: value` line per pair and the closing blank line. The
/// caller has checked that names and values contain no line breaks.
pub fn header_block<'a>(lines: impl Iterator<Item = (&'a [u8], &'a [u8])> + Clone) -> Bytes {
    let len = lines
        .clone()
        .map(|(n, v)| n.len() + v.len() + 4)
        .sum::<usize>();
    let mut block = BytesMut::with_capacity(12 + len);
    block.put_slice(b"NATS/1.0\r\n");
    for (name, value) in lines {
        block.put_slice(name);
        block.put_slice(b": ");
        block.put_slice(value);
        block.put_slice(b"\r\n");
    }
    block.put_slice(b"\r\n");
    block.freeze()
}
