//! The header scheme between HTTP and NATS, both ways.
//!
//! Into NATS (publish and request bodies):
//!
//! - `Nats-*` request headers pass through (`Nats-Msg-Id`, `Nats-Expected-Stream`, ...), for
//!   JetStream and for anything else that keys on NATS header names;
//! - `Idempotency-Key: k` becomes `Nats-Msg-Id: k`, unless a `Nats-Msg-Id` is also given;
//! - `X-Nats-Header-Foo: v` becomes `Foo: v`;
//! - every other HTTP header stays HTTP-only.
//!
//! HTTP header names are case-insensitive and arrive lower-cased, so NATS names are rebuilt in
//! their canonical form: each dash-separated word capitalized (`Nats-Msg-Id`, `Foo-Bar`), with
//! the acronyms NATS uses kept upper-case (`Nats-TTL`). A repeated header gives repeated NATS
//! header lines, in order.
//!
//! Out of NATS (request replies): each NATS header `Name: v` becomes the response header
//! `X-Nats-Header-Name: v`, and a status line (`NATS/1.0 503`) becomes `X-Nats-Status`.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use bytes::Bytes;

pub use crate::core::headers::{NatsHeaders, header_block, parse_nats};

use super::problem::{ApiError, ProblemKind};

/// HTTP headers with this prefix are passed through to NATS with their full name.
const NATS_PREFIX: &str = "nats-";
/// HTTP headers with this prefix become NATS headers named by the rest.
pub const X_NATS_HEADER: &str = "x-nats-header-";
/// The standard HTTP name for a deduplication key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The NATS header JetStream deduplicates on.
const MSG_ID: &str = "Nats-Msg-Id";
/// Words that NATS header names spell upper-case (`Nats-TTL`; but `Nats-Msg-Id`).
const ACRONYMS: &[&str] = &["TTL"];

/// Builds the raw NATS header block (`NATS/1.0\r\nK: v\r\n\r\n`) from the request headers,
/// or `None` when no header maps to NATS.
pub fn to_nats(headers: &HeaderMap) -> Result<Option<Bytes>, ApiError> {
    let mut lines: Vec<(String, &HeaderValue)> = Vec::new();
    let mut idempotency = None;
    for (name, value) in headers {
        let name = name.as_str();
        if let Some(rest) = name.strip_prefix(X_NATS_HEADER) {
            if rest.is_empty() {
                let detail = "X-Nats-Header- must be followed by a NATS header name";
                return Err(ApiError::new(ProblemKind::BadRequest, detail));
            }
            lines.push((canonical(rest), value));
        } else if name.starts_with(NATS_PREFIX) {
            lines.push((canonical(name), value));
        } else if name == IDEMPOTENCY_KEY {
            idempotency = Some(value);
        }
    }
    if let Some(key) = idempotency
        && !lines.iter().any(|(n, _)| n == MSG_ID)
    {
        lines.push((MSG_ID.to_string(), key));
    }
    if lines.is_empty() {
        return Ok(None);
    }
    Ok(Some(header_block(
        lines.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())),
    )))
}

/// `nats-msg-id` -> `Nats-Msg-Id`, `nats-ttl` -> `Nats-TTL`.
fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, word) in name.split('-').enumerate() {
        if i > 0 {
            out.push('-');
        }
        if let Some(acronym) = ACRONYMS.iter().find(|a| a.eq_ignore_ascii_case(word)) {
            out.push_str(acronym);
            continue;
        }
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    out
}

/// Adds a reply's NATS headers to an HTTP response as `X-Nats-Header-<name>`; names or values
/// HTTP cannot carry are left out rather than failing the whole answer.
pub fn to_http(block: &Bytes, out: &mut HeaderMap) {
    let parsed = parse_nats(block);
    if let Some(status) = parsed.status {
        out.insert("x-nats-status", HeaderValue::from(status));
    }
    for (name, value) in parsed.entries {
        let name = format!("{X_NATS_HEADER}{}", name.to_ascii_lowercase());
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            out.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn block(pairs: &[(&str, &str)]) -> Option<Bytes> {
        to_nats(&map(pairs)).unwrap()
    }

    #[test]
    fn the_scheme_maps_nats_x_nats_and_idempotency_headers() {
        let b = block(&[
            ("content-type", "text/plain"),
            ("Nats-Expected-Stream", "ORDERS"),
            ("X-Nats-Header-Trace-Id", "abc"),
            ("x-nats-header-foo", "1"),
            ("x-nats-header-foo", "2"),
            ("Idempotency-Key", "k1"),
            ("nats-ttl", "1m"),
        ]);
        let want = "NATS/1.0\r\nNats-Expected-Stream: ORDERS\r\nTrace-Id: abc\r\nFoo: 1\r\n\
                    Foo: 2\r\nNats-TTL: 1m\r\nNats-Msg-Id: k1\r\n\r\n";
        assert_eq!(b.as_deref(), Some(want.as_bytes()));
    }

    #[test]
    fn an_explicit_msg_id_wins_over_the_idempotency_key() {
        let b = block(&[("idempotency-key", "k1"), ("nats-msg-id", "m1")]);
        let want = "NATS/1.0\r\nNats-Msg-Id: m1\r\n\r\n";
        assert_eq!(b.as_deref(), Some(want.as_bytes()));
    }

    #[test]
    fn plain_http_headers_give_no_block() {
        assert_eq!(block(&[("accept", "*/*"), ("user-agent", "curl")]), None);
    }

    #[test]
    fn an_empty_x_nats_name_is_a_bad_request() {
        let e = to_nats(&map(&[("x-nats-header-", "v")])).unwrap_err();
        assert_eq!(e.kind(), ProblemKind::BadRequest);
    }

    #[test]
    fn blocks_parse_back_with_status() {
        let raw = Bytes::from_static(
            b"NATS/1.0 503 No Responders\r\nA: 1\r\nB:2\r\nA: x y\r\nbad\r\n\r\n",
        );
        let p = parse_nats(&raw);
        assert_eq!(p.status, Some(503));
        let entries: Vec<_> = p
            .entries
            .iter()
            .map(|(k, v)| (k.as_str(), &v[..]))
            .collect();
        assert_eq!(entries, [("A", &b"1"[..]), ("B", b"2"), ("A", b"x y")]);
        let mut out = HeaderMap::new();
        to_http(&raw, &mut out);
        assert_eq!(out["x-nats-status"], "503");
        let a: Vec<_> = out.get_all("x-nats-header-a").iter().collect();
        assert_eq!(a, ["1", "x y"]);
    }
}
