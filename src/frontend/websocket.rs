//! The NATS protocol over WebSocket, for browsers (nats.ws, nats.js `wsconnect`).
//!
//! The WebSocket is only a transport: the bytes of binary or text frames form one protocol
//! stream (not aligned to frames) that the same connection code as TCP parses, and
//! everything the server writes goes back as binary frames. A pump task copies between the
//! socket and an in-memory pipe that the connection reads and writes; a slow browser fills
//! the pipe, the connection's write deadline fires, and the socket is closed with code 1008
//! as nats-server does. Origin checks follow nats-server's `same_origin` and
//! `allowed_origins`.
//!
//! Frames and messages larger than `[websocket] max_frame_size` / `max_message_size` close
//! the socket with 1009 (Message Too Big). The dedicated listener has its own per-IP
//! connection limit and charges each upgrade to its client IP's `rate_limit` (the user is
//! only known later, from CONNECT); `/nats` on the API port is charged to `[api]`'s.
//!
//! The framing is yawc's, upgraded from axum. With `[websocket] compression = true` it
//! negotiates permessage-deflate (RFC 7692) with clients that offer it, on nats-server's
//! terms: no context takeover either way (so an idle connection holds no deflate state;
//! compressors and decompressors are borrowed per message from one pool), the fastest
//! level, and messages under 64 bytes sent as they are.

use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::debug;
use yawc::close::CloseCode;
use yawc::{CompressionLevel, DeflatePool, Frame, HttpWebSocket, IncomingUpgrade, OpCode, Options};

use crate::config::WebSocketConfig;
use crate::frontend::http::problem::ApiError;
use crate::frontend::limits::{ListenerLimits, RateKey};
use crate::frontend::nats::client::CloseReason;
use crate::frontend::nats::{conn, register};
use crate::server::Shared;

/// Size of the in-memory pipe between the socket pump and the connection.
const PIPE: usize = 64 * 1024;

/// Messages shorter than this go out uncompressed (nats-server's threshold): deflate would
/// not make them smaller.
const COMPRESS_THRESHOLD: usize = 64;

/// Idle deflate and inflate states kept for reuse, shared by every connection. Without
/// context takeover a connection holds one only while it compresses or decompresses a
/// message, so this bounds memory by messages in flight, not by connections.
static DEFLATE_POOL: LazyLock<DeflatePool> = LazyLock::new(|| DeflatePool::new(32));

/// Serves the dedicated WebSocket listener (upgrade on any path) until `shutdown` fires.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    tls: Option<crate::frontend::tls::HttpTls>,
    shutdown: CancellationToken,
) {
    let limits = shared.websocket_limits.clone();
    let app = Router::new()
        .fallback(upgrade)
        .layer(from_fn_with_state(limits.clone(), limit_upgrades))
        .with_state(shared);
    crate::frontend::accept::serve_http(listener, tls, Some(limits), app, shutdown).await;
}

/// Charges an upgrade to its client IP's budget in `limits` (the user is only known later,
/// from CONNECT); 429 with `Retry-After` when it is used up.
pub async fn limit_upgrades(
    State(limits): State<Arc<ListenerLimits>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match limits.check(&RateKey::Ip(addr.ip().to_canonical())) {
        Ok(()) => next.run(request).await,
        Err(limited) => {
            debug!(%addr, listener = limits.name, "WebSocket upgrade rate limited.");
            ApiError::rate_limited(limited).into_response()
        }
    }
}

/// Upgrades an HTTP request to a NATS-over-WebSocket connection (also mounted at `/nats` on
/// the API port). Refuses origins the configuration does not allow with 403, before the
/// upgrade.
pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    method: Method,
    headers: HeaderMap,
    ws: IncomingUpgrade,
) -> Response {
    // The extractor checked the key and the version; the rest of RFC 6455's request rules.
    if method != Method::GET {
        return (StatusCode::METHOD_NOT_ALLOWED, "WebSocket upgrades use GET").into_response();
    }
    if !has_token(&headers, header::UPGRADE, "websocket")
        || !has_token(&headers, header::CONNECTION, "upgrade")
    {
        return (StatusCode::BAD_REQUEST, "not a WebSocket upgrade").into_response();
    }
    if let Err(why) = check_origin(&shared.config().websocket, &headers) {
        debug!(%addr, why, "WebSocket origin refused.");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let (response, socket) = match ws.upgrade(options(&shared)) {
        Ok(upgrade) => upgrade,
        Err(e) => {
            debug!(%addr, error = %e, "WebSocket upgrade refused.");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    tokio::spawn(async move {
        // Resolves once the 101 response has gone out and hyper hands over the connection.
        match socket.await {
            Ok(socket) => bridge(shared, socket, addr).await,
            Err(e) => debug!(%addr, error = %e, "WebSocket upgrade failed."),
        }
    });
    response.map(Body::new)
}

/// The socket's settings: the configured frame and message sizes (yawc's limits exclude
/// the bound, ours include it), and permessage-deflate when configured. A client that does
/// not offer it gets plain frames either way.
fn options(shared: &Shared) -> Options {
    let config = shared.config();
    let ws = &config.websocket;
    let frame = ws.max_frame_size.saturating_add(1);
    let options = Options::default().with_limits(frame, ws.max_message_size.saturating_add(1));
    if !ws.compression {
        return options;
    }
    options
        .with_compression_level(CompressionLevel::fast())
        .server_no_context_takeover()
        .client_no_context_takeover()
        .with_compression_threshold(COMPRESS_THRESHOLD)
        .with_deflate_pool(DEFLATE_POOL.clone())
}

/// Whether the comma-separated header `name` lists `token` (case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Runs one WebSocket connection: the NATS connection on one end of a pipe, the socket
/// pump on the other.
async fn bridge(shared: Arc<Shared>, mut ws: HttpWebSocket, addr: SocketAddr) {
    let client = register(&shared, addr, true);
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (reader, writer) = tokio::io::split(ours);
    let deadline = shared.config().nats.write_deadline;
    let connection = tokio::spawn(conn::run(shared, client.clone(), reader, writer));

    let (mut from_conn, mut to_conn) = tokio::io::split(theirs);
    let mut buf = BytesMut::with_capacity(PIPE);
    let server_closed = loop {
        if buf.capacity() < 4096 {
            buf.reserve(PIPE);
        }
        // Only the first branch uses the socket; the second writes to it in its handler,
        // once the select is over (reading waits meanwhile, as the connection does on TCP).
        tokio::select! {
            frame = ws.next() => {
                let data = match frame.as_ref().map(Frame::opcode) {
                    Some(OpCode::Binary | OpCode::Text) => frame.map(Frame::into_payload),
                    // Pings are answered by yawc; fragments arrive reassembled.
                    Some(OpCode::Ping | OpCode::Pong | OpCode::Continuation) => continue,
                    // A close frame, the end of the socket, or a breach of the WebSocket
                    // protocol: yawc has queued the close frame that answers it, which
                    // waiting for the sink to be ready sends.
                    Some(OpCode::Close) | None => None,
                };
                let Some(data) = data else {
                    let ready = poll_fn(|cx| ws.poll_ready_unpin(cx));
                    let _ = tokio::time::timeout(deadline, ready).await;
                    break false;
                };
                if to_conn.write_all(&data).await.is_err() {
                    break true;
                }
            }
            read = from_conn.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break true,
                Ok(_) => {
                    let frame = Frame::binary(buf.split().freeze());
                    match tokio::time::timeout(deadline, ws.send(frame)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break false,
                        Err(_) => {
                            // The browser stopped reading: a slow consumer, as on TCP.
                            client.close(CloseReason::SlowConsumerWriteDeadline, false);
                            break true;
                        }
                    }
                }
            }
        }
    };
    if server_closed {
        // Pass on what the connection wrote last (an -ERR, say), then say why it ended; all
        // within the write deadline, since the browser may not be reading at all.
        let _ = tokio::time::timeout(deadline, async {
            while let Ok(n) = from_conn.read_buf(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        let (code, reason) = match client.close_reason() {
            Some(
                CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline,
            ) => (CloseCode::Policy, "Slow Consumer"),
            Some(CloseReason::ServerShutdown) => (CloseCode::Away, "Server Shutdown"),
            Some(CloseReason::ClientClosed) | None => (CloseCode::Normal, ""),
            Some(_) => (CloseCode::Protocol, "Protocol Error"),
        };
        let _ = tokio::time::timeout(deadline, async {
            if !buf.is_empty() {
                ws.send(Frame::binary(buf.split().freeze())).await?;
            }
            ws.send(Frame::close(code, reason)).await
        })
        .await;
    } else {
        client.close(CloseReason::ClientClosed, false);
    }
    let _ = connection.await;
}

/// nats-server's rules: with no rule configured, or no `Origin` header (not a browser),
/// accept; otherwise the origin must match the request host (`same_origin`) and/or be in
/// `allowed_origins`, comparing scheme, host and port (80/443 when absent).
pub(crate) fn check_origin(cfg: &WebSocketConfig, headers: &HeaderMap) -> Result<(), &'static str> {
    if !cfg.same_origin && cfg.allowed_origins.is_empty() {
        return Ok(());
    }
    let Some(origin) = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get("sec-websocket-origin"))
    else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "invalid Origin header")?;
    let parsed = parse_origin(origin).ok_or("invalid Origin header")?;
    if cfg.same_origin {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or("missing Host header")?;
        // Plain HTTP listener: the request scheme is http.
        let request = parse_origin(&format!("http://{host}")).ok_or("invalid Host header")?;
        if parsed != request {
            return Err("not same origin");
        }
    }
    if !cfg.allowed_origins.is_empty()
        && !cfg
            .allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o))
            .any(|o| o == parsed)
    {
        return Err("origin not allowed");
    }
    Ok(())
}

/// (scheme, lower-case host, port) of `scheme://host[:port]`.
fn parse_origin(s: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = s.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.trim_end_matches('/');
    let default_port = match scheme.as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        _ => return None,
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h, p),
            Err(_) if authority.starts_with('[') && authority.ends_with(']') => {
                (authority, default_port)
            }
            Err(_) => return None,
        },
        _ => (authority, default_port),
    };
    if host.is_empty() || host.contains(['/', '?', '#']) {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).expect("valid"));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).expect("valid"));
        }
        h
    }

    #[test]
    fn origin_rules() {
        let open = WebSocketConfig::default();
        assert!(check_origin(&open, &headers(Some("http://evil.com"), "a:1")).is_ok());

        let same = WebSocketConfig {
            same_origin: true,
            ..Default::default()
        };
        assert!(check_origin(&same, &headers(Some("http://a:1"), "a:1")).is_ok());
        assert!(check_origin(&same, &headers(Some("http://A:1/"), "a:1")).is_ok());
        assert!(check_origin(&same, &headers(Some("http://b:1"), "a:1")).is_err());
        assert!(check_origin(&same, &headers(Some("https://a:1"), "a:1")).is_err());
        assert!(check_origin(&same, &headers(None, "a:1")).is_ok());
        assert!(check_origin(&same, &headers(Some("http://a"), "a:80")).is_ok());

        let listed = WebSocketConfig {
            allowed_origins: vec!["https://app.example.com".into()],
            ..Default::default()
        };
        let h = headers(Some("https://app.example.com:443"), "x");
        assert!(check_origin(&listed, &h).is_ok());
        let h = headers(Some("https://other.example.com"), "x");
        assert!(check_origin(&listed, &h).is_err());
        assert!(check_origin(&listed, &headers(Some("garbage"), "x")).is_err());
    }
}
