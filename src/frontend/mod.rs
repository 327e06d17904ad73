//! Front-ends turn a wire format into the core's message type: the NATS client protocol over
//! TCP, and the same protocol over WebSocket for browsers. All share the client state, the
//! permissions and the router.

pub mod nats;
pub mod websocket;
