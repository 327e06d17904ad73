//! Front-ends turn a wire format into the core's message type: the NATS client protocol over
//! TCP, the same protocol over WebSocket for browsers, and the HTTP gateway API (which also
//! serves JSON frames over WebSocket at `/v1/ws`). All share the permissions and the router.
//! The HTTP listeners share [`accept`] (per-IP connection limit, TLS) and [`limits`].

pub mod accept;
pub mod http;
pub mod limits;
pub mod nats;
pub mod tls;
pub mod websocket;
