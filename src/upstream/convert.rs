//! Between the broker's [`Message`] (raw NATS header block) and async-nats' messages (parsed
//! header maps, status codes), for the gateway's upstream connection.

use bytes::{BufMut, Bytes, BytesMut};

use crate::core::headers::parse_nats;
use crate::core::message::Message;

/// The header map async-nats sends for a raw header block. Lines async-nats would refuse
/// (control characters, non-UTF-8 values) are left out rather than failing the publish; a
/// status line on a published message has no meaning for the cluster and is dropped too.
pub fn to_header_map(block: &Bytes) -> async_nats::HeaderMap {
    let mut map = async_nats::HeaderMap::new();
    for (name, value) in parse_nats(block).entries {
        let Ok(name) = name.parse::<async_nats::HeaderName>() else {
            continue;
        };
        let Some(value) = std::str::from_utf8(&value)
            .ok()
            .and_then(|v| v.parse::<async_nats::HeaderValue>().ok())
        else {
            continue;
        };
        map.append(name, value);
    }
    map
}

/// The broker message for one the cluster delivered: the header block is written back with
/// the status line (`NATS/1.0 503`, `NATS/1.0 100 Idle Heartbeat`) clients rely on.
pub fn from_upstream(m: async_nats::Message) -> Message {
    let status = m.status.map(|s| s.as_u16());
    let headers = match (&m.headers, status) {
        (None, None) => None,
        (Some(h), None) if h.is_empty() => None,
        (h, status) => Some(header_block(
            status,
            m.description.as_deref(),
            h.iter().flat_map(|h| h.iter()),
        )),
    };
    Message {
        subject: Bytes::copy_from_slice(m.subject.as_bytes()),
        reply: m.reply.map(|r| Bytes::copy_from_slice(r.as_bytes())),
        headers,
        payload: m.payload,
    }
}

fn header_block<'a>(
    status: Option<u16>,
    description: Option<&str>,
    entries: impl Iterator<Item = (&'a async_nats::HeaderName, &'a Vec<async_nats::HeaderValue>)>,
) -> Bytes {
    let mut block = BytesMut::with_capacity(64);
    block.put_slice(b"NATS/1.0");
    if let Some(code) = status {
        block.put_slice(format!(" {code}").as_bytes());
        if let Some(text) = description.filter(|d| !d.is_empty()) {
            block.put_u8(b' ');
            block.put_slice(text.as_bytes());
        }
    }
    block.put_slice(b"\r\n");
    for (name, values) in entries {
        for value in values {
            block.put_slice(name.as_ref());
            block.put_slice(b": ");
            block.put_slice(value.as_str().as_bytes());
            block.put_slice(b"\r\n");
        }
    }
    block.put_slice(b"\r\n");
    block.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_survive_both_ways() {
        let block = Bytes::from_static(b"NATS/1.0\r\nNats-Msg-Id: 7\r\nX-Two: a b\r\n\r\n");
        let map = to_header_map(&block);
        assert_eq!(map.get("Nats-Msg-Id").map(|v| v.as_str()), Some("7"));
        assert_eq!(map.get("X-Two").map(|v| v.as_str()), Some("a b"));
        let back = header_block(None, None, map.iter());
        let parsed = parse_nats(&back);
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.status, None);
    }

    #[test]
    fn bad_lines_are_skipped_not_fatal() {
        let block = Bytes::from_static(b"NATS/1.0\r\nBad Name: x\r\nOk: \xff\r\nGood: y\r\n\r\n");
        let map = to_header_map(&block);
        assert_eq!(map.iter().count(), 1);
        assert_eq!(map.get("Good").map(|v| v.as_str()), Some("y"));
    }

    #[test]
    fn status_lines_are_written_back() {
        let empty = async_nats::HeaderMap::new();
        let block = header_block(Some(503), None, empty.iter());
        assert_eq!(&block[..], b"NATS/1.0 503\r\n\r\n");
        let block = header_block(Some(100), Some("Idle Heartbeat"), empty.iter());
        assert_eq!(&block[..], b"NATS/1.0 100 Idle Heartbeat\r\n\r\n");
    }
}
