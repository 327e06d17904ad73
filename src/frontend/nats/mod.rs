//! The NATS client protocol front-end: accepts TCP connections, greets them with INFO and
//! runs each one (see [`conn`]).

pub mod client;
pub mod conn;
pub mod outbound;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use serde::Serialize;
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
    let (reader, writer) = stream.into_split();
    accept(shared, addr, false, reader, writer).await;
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
    let id = shared.next_client_id();
    shared
        .stats
        .total_connections
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let client = Arc::new(ClientState::new(
        id,
        addr,
        shared.config.nats.max_pending,
        websocket,
    ));
    client.send_proto(&render_info(shared, id, addr, false));
    let over_limit = !shared
        .clients
        .insert(client.clone(), shared.config.nats.max_connections);
    if over_limit {
        client.send_err("maximum connections exceeded");
        client.close(CloseReason::MaxConnectionsExceeded, true);
    } else {
        debug!(cid = id, %addr, websocket, "Client connection created.");
    }
    client
}

/// The INFO line for one client; `ldm` announces lame duck mode.
pub fn render_info(shared: &Shared, client_id: u64, addr: SocketAddr, ldm: bool) -> BytesMut {
    let listen = shared.nats_addr();
    let host = shared.config.nats.host.clone();
    let info = ServerInfo {
        server_id: &shared.server_id,
        server_name: &shared.config.server_name,
        version: NATS_COMPAT_VERSION,
        proto: 1,
        go: concat!("sluice-", env!("CARGO_PKG_VERSION")),
        host: &host,
        port: listen.map_or(shared.config.nats.port, |a| a.port()),
        headers: true,
        max_payload: shared.config.nats.max_payload,
        jetstream: shared.jetstream_available(),
        auth_required: shared.auth.required(),
        client_id,
        client_ip: addr.ip().to_string(),
        ldm,
    };
    let json = serde_json::to_vec(&info).unwrap_or_default();
    let mut b = BytesMut::with_capacity(json.len() + 8);
    encoder::write_info(&mut b, &json);
    b
}
