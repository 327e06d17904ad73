//! The message type every front-end turns its wire format into.
//!
//! All parts are `Bytes` slices of the buffer the message arrived in, so a message is routed
//! to any number of subscribers without copying its payload.

use bytes::Bytes;

/// A message on its way through the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The literal subject it was published to.
    pub subject: Bytes,
    /// Where answers should go, for request/reply.
    pub reply: Option<Bytes>,
    /// The raw NATS header block (`NATS/1.0\r\n...\r\n\r\n`), when the publisher sent one.
    pub headers: Option<Bytes>,
    /// The body.
    pub payload: Bytes,
}

impl Message {
    /// A message without headers or reply subject.
    pub fn new(subject: impl Into<Bytes>, payload: impl Into<Bytes>) -> Self {
        Message {
            subject: subject.into(),
            reply: None,
            headers: None,
            payload: payload.into(),
        }
    }

    /// Bytes counted against limits and statistics: headers plus payload, as nats-server counts.
    pub fn size(&self) -> usize {
        self.headers.as_ref().map_or(0, Bytes::len) + self.payload.len()
    }
}
