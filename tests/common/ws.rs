//! Helpers for tests that talk to the JSON WebSocket (`/v1/ws`) with tokio-tungstenite.

use std::time::Duration;

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

/// A client socket.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next frame that is not a ping or pong; panics on close, error or after 5 s.
pub async fn next_frame(ws: &mut Ws) -> Message {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("no socket error");
        if !matches!(frame, Message::Ping(_) | Message::Pong(_)) {
            return frame;
        }
    }
}
