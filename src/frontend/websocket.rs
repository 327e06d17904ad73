//! The NATS protocol over WebSocket, for browsers (nats.ws, nats.js `wsconnect`).
//!
//! The WebSocket is only a transport: the bytes of binary or text frames form one protocol
//! stream (not aligned to frames) that the same connection code as TCP parses, and
//! everything the server writes goes back as binary frames. A pump task copies between the
//! socket and an in-memory pipe that the connection reads and writes; a slow browser fills
//! the pipe, the connection's write deadline fires, and the socket is closed with code 1008
//! as nats-server does. Origin checks follow nats-server's `same_origin` and
//! `allowed_origins`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use crate::config::WebSocketConfig;
use crate::frontend::nats::client::CloseReason;
use crate::frontend::nats::{conn, register};
use crate::server::Shared;

/// Size of the in-memory pipe between the socket pump and the connection.
const PIPE: usize = 64 * 1024;

/// Serves the dedicated WebSocket listener (upgrade on any path) until `shutdown` fires.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, shutdown: CancellationToken) {
    let app = Router::new().fallback(upgrade).with_state(shared);
    let _ = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await;
}

/// Upgrades an HTTP request to a NATS-over-WebSocket connection (also mounted at `/nats` on
/// the API port). Refuses origins the configuration does not allow with 403.
pub async fn upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if let Err(why) = check_origin(&shared.config.websocket, &headers) {
        debug!(%addr, why, "WebSocket origin refused.");
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let limit = shared.config.nats.max_payload + shared.config.nats.max_control_line + PIPE;
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| bridge(shared, socket, addr))
}

/// Runs one WebSocket connection: the NATS connection on one end of a pipe, the socket
/// pump on the other.
async fn bridge(shared: Arc<Shared>, socket: WebSocket, addr: SocketAddr) {
    let client = register(&shared, addr, true);
    let (ours, theirs) = tokio::io::duplex(PIPE);
    let (reader, writer) = tokio::io::split(ours);
    let deadline = shared.config.nats.write_deadline;
    let connection = tokio::spawn(conn::run(shared, client.clone(), reader, writer));

    let (mut ws_tx, mut ws_rx) = socket.split();
    let (mut from_conn, mut to_conn) = tokio::io::split(theirs);
    let mut buf = BytesMut::with_capacity(PIPE);
    let server_closed = loop {
        if buf.capacity() < 4096 {
            buf.reserve(PIPE);
        }
        tokio::select! {
            frame = ws_rx.next() => {
                let data = match frame {
                    Some(Ok(Message::Binary(b))) => b,
                    Some(Ok(Message::Text(t))) => bytes::Bytes::copy_from_slice(t.as_bytes()),
                    // Pings are answered by the WebSocket layer itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break false,
                };
                if to_conn.write_all(&data).await.is_err() {
                    break true;
                }
            }
            read = from_conn.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => break true,
                Ok(_) => {
                    let frame = Message::Binary(buf.split().freeze());
                    match tokio::time::timeout(deadline, ws_tx.send(frame)).await {
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
            ) => (close_code::POLICY, "Slow Consumer"),
            Some(CloseReason::ServerShutdown) => (close_code::AWAY, "Server Shutdown"),
            Some(CloseReason::ClientClosed) | None => (close_code::NORMAL, ""),
            Some(_) => (close_code::PROTOCOL, "Protocol Error"),
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(deadline, async {
            if !buf.is_empty() {
                ws_tx.send(Message::Binary(buf.split().freeze())).await?;
            }
            ws_tx.send(Message::Close(Some(frame))).await
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
