//! The `[websocket]` table: the NATS protocol over WebSocket, for browsers (nats.ws, nats.js
//! `wsconnect`). Like nats-server's `websocket {}` block it can have a listener of its own
//! that upgrades on any path; the origin rules and `compression` also apply to `/nats` on the
//! API port.

use serde::Deserialize;

use super::Problems;

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
}

/// Validates `[websocket]`; `nats_host` is the default bind address.
pub(super) fn build(p: &mut Problems, mut f: WebSocketFile, nats_host: &str) -> WebSocketConfig {
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
    WebSocketConfig {
        listener,
        same_origin: f.same_origin.unwrap_or(false),
        allowed_origins: f.allowed_origins,
        compression: f.compression.unwrap_or(false),
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
