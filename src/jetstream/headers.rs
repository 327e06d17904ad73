//! The NATS headers JetStream reads from published messages, and the header blocks of the
//! status messages it sends (pull request timeouts, heartbeats, flow control, direct get).
//!
//! Header blocks stay raw bytes end to end (`NATS/1.0\r\nKey: value\r\n...\r\n\r\n`); this
//! module only looks values up and writes new blocks, so nothing is parsed twice.

use std::fmt::Write as _;

use bytes::Bytes;

/// Deduplication id (`duplicate_window`).
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The publisher expects this stream to capture the message.
pub const EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// The publisher expects this to be the stream's last sequence.
pub const EXPECTED_LAST_SEQ: &str = "Nats-Expected-Last-Sequence";
/// The publisher expects this to be the last sequence of the message's subject.
pub const EXPECTED_LAST_SUBJECT_SEQ: &str = "Nats-Expected-Last-Subject-Sequence";
/// The publisher expects this to be the last message id the stream stored.
pub const EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// `sub` or `all`: replace earlier messages (KV purge, object store meta updates).
pub const ROLLUP: &str = "Nats-Rollup";
/// Per-message time to live, which sluice does not implement yet.
pub const TTL: &str = "Nats-TTL";

/// Finds a header's first value. Names compare without regard to ASCII case, as clients
/// disagree on canonical forms; values are trimmed.
pub fn get<'a>(block: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut lines = block.split(|b| *b == b'\n');
    lines.next()?; // the NATS/1.0 status line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        if line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(name.as_bytes())
        {
            return Some(line[colon + 1..].trim_ascii());
        }
    }
    None
}

/// [`get`] for a header that holds a decimal number; `None` when absent or not a number.
pub fn get_u64(block: &[u8], name: &str) -> Option<Result<u64, ()>> {
    get(block, name).map(|v| {
        std::str::from_utf8(v)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(())
    })
}

/// A status-only header block such as `NATS/1.0 404 No Messages`, with extra headers.
pub fn status(code: u16, description: &str, extra: &[(&str, u64)]) -> Bytes {
    let mut out = format!("NATS/1.0 {code} {description}\r\n");
    for (name, value) in extra {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// Appends `extra` headers to a message's own block (or to a fresh one), as direct gets and
/// `headers_only` deliveries do.
pub fn with_extra(block: Option<&[u8]>, extra: &[(&str, &str)]) -> Bytes {
    let mut out = Vec::with_capacity(block.map_or(0, <[u8]>::len) + 64 * extra.len() + 12);
    match block {
        Some(b) if b.ends_with(b"\r\n\r\n") => out.extend_from_slice(&b[..b.len() - 2]),
        Some(b) if !b.is_empty() => {
            out.extend_from_slice(b);
            if !b.ends_with(b"\r\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
        _ => out.extend_from_slice(b"NATS/1.0\r\n"),
    }
    for (name, value) in extra {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_case_insensitively_and_trims() {
        let block = b"NATS/1.0\r\nNats-Msg-Id:  abc \r\nnats-expected-last-sequence: 7\r\n\r\n";
        assert_eq!(get(block, MSG_ID), Some(&b"abc"[..]));
        assert_eq!(get_u64(block, EXPECTED_LAST_SEQ), Some(Ok(7)));
        assert_eq!(get(block, ROLLUP), None);
        assert_eq!(
            get_u64(
                b"NATS/1.0\r\nNats-Expected-Last-Sequence: x\r\n\r\n",
                EXPECTED_LAST_SEQ
            ),
            Some(Err(()))
        );
    }

    #[test]
    fn the_status_line_is_not_a_header() {
        assert_eq!(get(b"NATS/1.0 503: x\r\n\r\n", "NATS/1.0 503"), None);
    }

    #[test]
    fn builds_status_and_extended_blocks() {
        assert_eq!(
            &status(408, "Request Timeout", &[("Nats-Pending-Messages", 3)])[..],
            b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\n\r\n"
        );
        assert_eq!(
            &with_extra(Some(b"NATS/1.0\r\nA: 1\r\n\r\n"), &[("B", "2")])[..],
            b"NATS/1.0\r\nA: 1\r\nB: 2\r\n\r\n"
        );
        assert_eq!(
            &with_extra(None, &[("B", "2")])[..],
            b"NATS/1.0\r\nB: 2\r\n\r\n"
        );
    }
}
