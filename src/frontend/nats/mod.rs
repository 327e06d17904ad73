//! The NATS client protocol front-end: accepts TCP connections, greets them with INFO and
//! runs each one (see [`conn`]). With `[nats.tls]` the INFO goes out in the clear with
//! `tls_required`, and the client then starts TLS, as with nats-server; a client that
//! does not gets `-ERR 'Secure Connection - TLS Required'`.

pub mod client;
pub mod conn;
pub mod outbound;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use self::client::{ClientState, CloseReason};
use crate::protocol::encoder;
use crate::server::{NATS_COMPAT_VERSION, Shared};

/// The INFO a client receives on connect; field names and omissions follow nats-server.
#[derive(Debug, Serialize)]
pub struct ServerInfo<'a> {
    /// Server id.
    pub server_id: &'a str,
    /// Server name.
    pub server_name: &'a str,
    /// nats-server version we are compatible with.
    pub version: &'a str,
    /// Protocol level.
    pub proto: u8,
    /// Implementation (nats-server puts its Go version here).
    pub go: &'a str,
    /// Listen host.
    pub host: &'a str,
    /// Listen port.
    pub port: u16,
    /// Headers are supported.
    pub headers: bool,
    /// Largest payload accepted.
    pub max_payload: usize,
    /// JetStream is enabled.
    pub jetstream: bool,
    /// Credentials are required.
    pub auth_required: bool,
    /// This connection's id.
    pub client_id: u64,
    /// The client's address as the server sees it.
    pub client_ip: String,
    /// Lame duck mode: the server is going away, clients should reconnect elsewhere.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub ldm: bool,
    /// The client must start TLS after this INFO.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_required: bool,
    /// The client must present a certificate.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls_verify: bool,
    /// The challenge an nkey user signs in CONNECT `sig`; only when nkey users exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
}

/// Accepts connections until `shutdown` fires.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener, shutdown: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match accepted {
            Ok((stream, addr)) => {
                let shared = shared.clone();
                tokio::spawn(handle(shared, stream, addr));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(error = %e, "Error accepting client connection.");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    if let Some(acceptor) = shared.tls.load_full() {
        return handle_tls(shared, acceptor, stream, addr).await;
    }
    let (reader, writer) = stream.into_split();
    accept(shared, addr, false, reader, writer).await;
}

/// INFO in the clear, then the TLS handshake (within the configured timeout), then the
/// connection runs over TLS.
async fn handle_tls(
    shared: Arc<Shared>,
    acceptor: Arc<tokio_rustls::TlsAcceptor>,
    mut stream: TcpStream,
    addr: SocketAddr,
) {
    let Some((timeout, map_certificate)) =
        (shared.config().nats.tls.as_ref()).map(|t| (t.timeout, t.verify_and_map))
    else {
        return;
    };
    let id = shared.next_client_id();
    let nonce = new_nonce(&shared);
    if stream
        .write_all(&render_info(
            &shared,
            id,
            addr,
            nonce.as_deref(),
            false,
            false,
        ))
        .await
        .is_err()
    {
        return;
    }
    // A TLS handshake starts with a record of type 22; anything else is a plain client.
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(1)) if first[0] == 0x16 => {}
        Ok(Ok(n)) if n > 0 => {
            debug!(%addr, "Plain connection to the TLS client port.");
            let _ = stream
                .write_all(b"-ERR 'Secure Connection - TLS Required'\r\n")
                .await;
            return;
        }
        _ => return,
    }
    let tls = match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            debug!(%addr, error = %e, "TLS handshake failed.");
            return;
        }
        Err(_) => {
            debug!(%addr, "TLS handshake timeout.");
            return;
        }
    };
    let client = register_as(&shared, id, addr, false, nonce, false);
    if map_certificate {
        let names = crate::frontend::tls::certificate_names(tls.get_ref().1);
        let _ = client.certificate_names.set(names);
    }
    let (reader, writer) = tokio::io::split(tls);
    conn::run(shared, client, reader, writer).await;
}

/// Greets a new connection (INFO, connection limit) and runs it until it closes.
pub async fn accept<R, W>(
    shared: Arc<Shared>,
    addr: SocketAddr,
    websocket: bool,
    reader: R,
    writer: W,
) where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let client = register(&shared, addr, websocket);
    conn::run(shared, client, reader, writer).await;
}

/// Creates and registers the state of a new connection and queues its INFO; over
/// `max_connections` the connection is marked to close after the error is sent. Transports
/// that need the state themselves (WebSocket) call this, then [`conn::run`].
pub fn register(shared: &Arc<Shared>, addr: SocketAddr, websocket: bool) -> Arc<ClientState> {
    let nonce = new_nonce(shared);
    register_as(
        shared,
        shared.next_client_id(),
        addr,
        websocket,
        nonce,
        true,
    )
}

/// A nonce for a new connection's INFO when nkey users may sign one (nats-server sends none
/// otherwise).
fn new_nonce(shared: &Shared) -> Option<String> {
    shared.auth().nonce_required().then(crate::auth::new_nonce)
}

/// [`register`] with a given id and nonce; `send_info` false when the INFO already went out
/// (TLS).
fn register_as(
    shared: &Arc<Shared>,
    id: u64,
    addr: SocketAddr,
    websocket: bool,
    nonce: Option<String>,
    send_info: bool,
) -> Arc<ClientState> {
    shared
        .stats
        .total_connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let client = Arc::new(ClientState::new(
        id,
        addr,
        shared.config().nats.max_pending,
        websocket,
        nonce,
    ));
    if send_info {
        let info = render_info(shared, id, addr, client.nonce.as_deref(), false, websocket);
        client.send_proto(&info);
    }
    let over_limit = !shared
        .clients
        .insert(client.clone(), shared.config().nats.max_connections);
    if over_limit {
        client.send_err("maximum connections exceeded");
        client.close(CloseReason::MaxConnectionsExceeded, true);
    } else {
        debug!(cid = id, %addr, websocket, "Client connection created.");
    }
    client
}

/// The INFO line for one client; `nonce` only in the first one (nkey users sign it), `ldm`
/// announces lame duck mode. WebSocket clients are never told to start TLS (the TLS
/// settings are the client port's).
pub fn render_info(
    shared: &Shared,
    client_id: u64,
    addr: SocketAddr,
    nonce: Option<&str>,
    ldm: bool,
    websocket: bool,
) -> BytesMut {
    let config = shared.config();
    let tls = config.nats.tls.as_ref().filter(|_| !websocket);
    let listen = shared.nats_addr();
    let host = config.nats.host.clone();
    let info = ServerInfo {
        server_id: &shared.server_id,
        server_name: &config.server_name,
        version: NATS_COMPAT_VERSION,
        proto: 1,
        go: concat!("sluice-", env!("CARGO_PKG_VERSION")),
        host: &host,
        port: listen.map_or(config.nats.port, |a| a.port()),
        headers: true,
        max_payload: config.nats.max_payload,
        jetstream: shared.jetstream_available(),
        auth_required: shared.auth().required(),
        client_id,
        client_ip: addr.ip().to_string(),
        ldm,
        tls_required: tls.is_some(),
        tls_verify: tls.is_some_and(|t| t.verify),
        nonce,
    };
    let json = serde_json::to_vec(&info).unwrap_or_default();
    let mut b = BytesMut::with_capacity(json.len() + 8);
    encoder::write_info(&mut b, &json);
    b
}
