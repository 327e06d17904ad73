//! Front-ends turn a wire format into the core's message type. Only the NATS client protocol
//! (TCP) exists so far; WebSocket and HTTP reuse the same client state and router.

pub mod nats;
