//! Encoder for the operations the server sends to NATS clients.
//!
//! Each function appends one control line to a `BytesMut` with a single
//! capacity reservation. For MSG and HMSG only the control line is written:
//! the caller queues the payload (often a shared `Bytes`, so it is never
//! copied) and then `\r\n` itself.

use bytes::BytesMut;

/// `PING\r\n`, sent to check that a client is alive.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`, the answer to a client's PING.
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK\r\n`, the acknowledgement sent to clients in verbose mode.
pub const OK: &[u8] = b"+OK\r\n";

/// Appends `MSG <subject> <sid> [reply] <len>\r\n`, the line that announces a
/// message to a subscriber; the payload and its `\r\n` follow from the caller.
pub fn write_msg_header(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload_len: usize,
) {
    let mut len = itoa::Buffer::new();
    let len = len.format(payload_len).as_bytes();
    let reply_len = reply.map_or(0, |r| r.len() + 1);
    dst.reserve(4 + subject.len() + 1 + sid.len() + 1 + reply_len + len.len() + 2);
    dst.extend_from_slice(b"MSG ");
    write_routing(dst, subject, sid, reply);
    dst.extend_from_slice(len);
    dst.extend_from_slice(b"\r\n");
}

/// Appends `HMSG <subject> <sid> [reply] <hdr_len> <total_len>\r\n`, the line
/// that announces a message with headers; `total_len` counts headers and payload.
pub fn write_hmsg_header(
    dst: &mut BytesMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers_len: usize,
    total_len: usize,
) {
    let mut hdr = itoa::Buffer::new();
    let hdr = hdr.format(headers_len).as_bytes();
    let mut total = itoa::Buffer::new();
    let total = total.format(total_len).as_bytes();
    let reply_len = reply.map_or(0, |r| r.len() + 1);
    dst.reserve(
        5 + subject.len() + 1 + sid.len() + 1 + reply_len + hdr.len() + 1 + total.len() + 2,
    );
    dst.extend_from_slice(b"HMSG ");
    write_routing(dst, subject, sid, reply);
    dst.extend_from_slice(hdr);
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(total);
    dst.extend_from_slice(b"\r\n");
}

/// `<subject> <sid> [reply] `, shared by MSG and HMSG.
fn write_routing(dst: &mut BytesMut, subject: &[u8], sid: &[u8], reply: Option<&[u8]>) {
    dst.extend_from_slice(subject);
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(sid);
    dst.extend_from_slice(b" ");
    if let Some(reply) = reply {
        dst.extend_from_slice(reply);
        dst.extend_from_slice(b" ");
    }
}

/// Appends `INFO <json>\r\n`, sent on accept and whenever server info changes.
pub fn write_info(dst: &mut BytesMut, info_json: &[u8]) {
    dst.reserve(5 + info_json.len() + 2);
    dst.extend_from_slice(b"INFO ");
    dst.extend_from_slice(info_json);
    dst.extend_from_slice(b"\r\n");
}

/// Appends `-ERR '<text>'\r\n`, the form nats-server uses and clients match on
/// (see `ProtocolError::client_text`).
pub fn write_err(dst: &mut BytesMut, text: &str) {
    dst.reserve(6 + text.len() + 3);
    dst.extend_from_slice(b"-ERR '");
    dst.extend_from_slice(text.as_bytes());
    dst.extend_from_slice(b"'\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
        let mut dst = BytesMut::new();
        f(&mut dst);
        dst.to_vec()
    }

    #[test]
    fn msg_header() {
        assert_eq!(
            written(|d| write_msg_header(d, b"foo.bar", b"9", None, 0)),
            b"MSG foo.bar 9 0\r\n"
        );
        assert_eq!(
            written(|d| write_msg_header(d, b"a", b"sid1", Some(b"_INBOX.x"), 1_048_576)),
            b"MSG a sid1 _INBOX.x 1048576\r\n"
        );
    }

    #[test]
    fn hmsg_header() {
        assert_eq!(
            written(|d| write_hmsg_header(d, b"a", b"1", None, 12, 14)),
            b"HMSG a 1 12 14\r\n"
        );
        assert_eq!(
            written(|d| write_hmsg_header(d, b"a", b"1", Some(b"r"), 16, 16)),
            b"HMSG a 1 r 16 16\r\n"
        );
    }

    #[test]
    fn info_err_and_constants() {
        assert_eq!(
            written(|d| write_info(d, b"{\"a\":1}")),
            b"INFO {\"a\":1}\r\n"
        );
        assert_eq!(
            written(|d| write_err(d, "Unknown Protocol Operation")),
            b"-ERR 'Unknown Protocol Operation'\r\n"
        );
        assert_eq!(PING, b"PING\r\n");
        assert_eq!(PONG, b"PONG\r\n");
        assert_eq!(OK, b"+OK\r\n");
    }

    #[test]
    fn appends_after_existing_bytes() {
        let mut dst = BytesMut::from(&b"PONG\r\n"[..]);
        write_msg_header(&mut dst, b"s", b"1", None, 3);
        dst.extend_from_slice(b"abc\r\n");
        assert_eq!(&dst[..], b"PONG\r\nMSG s 1 3\r\nabc\r\n");
    }
}
