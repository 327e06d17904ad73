//! The `[websocket]` table: the NATS protocol over WebSocket, for browsers (nats.ws, nats.js
//! `wsconnect`). Like nats-server's `websocket {}` block it can have a listener of its own
//! that upgrades on any path; the origin rules, `compression` and the frame and message size
//! limits also apply to `/nats` and `/v1/ws` on the API port. The per-IP connection limit and
//! the rate limit (upgrades per second per IP) are the dedicated listener's own; the API port
//! has its own in `[api]`.

use serde::Deserialize;

use super::limits::{RateLimit, RateLimitFile, build_rate};
use super::{NatsConfig, Problems, SizeFile, us};

/// Room the default message size leaves beyond twice `max_payload`: a JSON envelope with
/// headers on `/v1/ws`, a control line on `/nats`.
const ENVELOPE: u64 = 64 * 1024;

/// WebSocket settings after validation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebSocketConfig {
    /// A dedicated listener (`[websocket] port`); `None` when not configured.
    pub listener: Option<WebSocketListener>,
    /// Accept browsers only when their `Origin` matches the request's host.
    pub same_origin: bool,
    /// Accept browsers only from these origins (`scheme://host[:port]`); empty = any.
    pub allowed_origins: Vec<String>,
    /// Negotiate permessage-deflate (RFC 7692) with clients that offer it, like
    /// nats-server's `websocket { compression: true }`. Off by default.
    pub compression: bool,
    /// Largest WebSocket frame a client may send (payload bytes, after inflating); a larger
    /// one closes the socket with 1009 (Message Too Big).
    pub max_frame_size: usize,
    /// Largest WebSocket message (all its fragments) a client may send; also closed with
    /// 1009. Defaults to twice `max_payload` plus 64 KiB: a largest message as base64 JSON.
    pub max_message_size: usize,
    /// Open TCP connections one client IP may hold on the dedicated listener; 0 = unlimited.
    pub max_connections_per_ip: usize,
    /// Upgrades per second per client IP on the dedicated listener; `None` = unlimited.
    pub rate_limit: Option<RateLimit>,
}

/// Where the dedicated WebSocket listener binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketListener {
    /// Address to bind; defaults to the NATS host.
    pub host: String,
    /// Port to bind; 0 asks the OS for a free port (`port = -1`).
    pub port: u16,
    /// WSS (`[websocket.tls]`); plain WS when `None`.
    pub tls: Option<super::TlsConfig>,
}

/// The file form of `[websocket]`.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct WebSocketFile {
    host: Option<String>,
    port: Option<i64>,
    same_origin: Option<bool>,
    allowed_origins: Vec<String>,
    compression: Option<bool>,
    tls: Option<super::tls::TlsFile>,
    max_frame_size: Option<SizeFile>,
    max_message_size: Option<SizeFile>,
    max_connections_per_ip: Option<u64>,
    rate_limit: Option<RateLimitFile>,
}

/// Validates `[websocket]`; the NATS host is the default bind address, and `max_payload`
/// sizes the default frame and message limits.
pub(super) fn build(p: &mut Problems, mut f: WebSocketFile, nats: &NatsConfig) -> WebSocketConfig {
    let nats_host = nats.host.as_str();
    if let Some(host) = &f.host {
        p.host("websocket.host", host);
    }
    let listener = match f.port {
        None | Some(0) => None,
        Some(n) => p.port("websocket.port", n).map(|port| WebSocketListener {
            tls: super::tls::build(p, "websocket.tls", f.tls.take().unwrap_or_default()),
            host: f.host.clone().unwrap_or_else(|| nats_host.to_string()),
            port,
        }),
    };
    for (i, origin) in f.allowed_origins.iter().enumerate() {
        if !is_origin(origin) {
            p.add(
                &format!("websocket.allowed_origins[{i}]"),
                format!("{origin:?} is not an origin such as \"https://example.com:8443\""),
            );
        }
    }
    let default_message = 2 * nats.max_payload as u64 + ENVELOPE;
    let message = p.size(
        "websocket.max_message_size",
        f.max_message_size,
        default_message,
    );
    let frame = p.size("websocket.max_frame_size", f.max_frame_size, message);
    let cap = 2 * super::MAX_PAYLOAD_CAP + ENVELOPE;
    if message > cap {
        p.add(
            "websocket.max_message_size",
            format!("must be at most {cap}"),
        );
    }
    if frame > message {
        p.add(
            "websocket.max_frame_size",
            format!("must not exceed websocket.max_message_size ({message})"),
        );
    }
    WebSocketConfig {
        listener,
        same_origin: f.same_origin.unwrap_or(false),
        allowed_origins: f.allowed_origins,
        compression: f.compression.unwrap_or(false),
        max_frame_size: us(frame),
        max_message_size: us(message),
        max_connections_per_ip: us(f.max_connections_per_ip.unwrap_or(0)),
        rate_limit: build_rate(p, "websocket.rate_limit", f.rate_limit),
    }
}

/// `http(s)://host[:port]` with nothing after the authority.
fn is_origin(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    let host = rest.trim_end_matches('/');
    matches!(scheme, "http" | "https") && !host.is_empty() && !host.contains(['/', '?', '#', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(is_origin("https://example.com"));
        assert!(is_origin("http://localhost:8080"));
        assert!(!is_origin("example.com"));
        assert!(!is_origin("ftp://example.com"));
        assert!(!is_origin("https://example.com/path"));
    }
}
