//! How JetStream talks to the router like any client: internal subscriptions whose messages
//! land in a channel ([`InboxSink`]), and an [`Outbox`] that publishes API responses, acks
//! and consumer deliveries.
//!
//! Streams capture subjects the way nats-server does it, with internal subscriptions, so a
//! publish reaches core subscribers and streams in the same routing pass, and a request to
//! `$JS.API.>` is "answered" as far as no-responders is concerned.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::core::message::Message;
use crate::core::router::{Enqueued, Publisher, Router, Sink, Subscription};
use crate::server::Shared;

/// Client id of JetStream's internal subscriptions; real connections start at 1.
pub const INTERNAL_CLIENT_ID: u64 = 0;

/// A sink that forwards every message to a task through an unbounded channel, tagged with
/// a value the owner chose (so one task can tell its subscriptions apart).
pub struct InboxSink<T: Clone + Send + Sync + 'static> {
    tag: T,
    tx: mpsc::UnboundedSender<(T, Message)>,
}

impl<T: Clone + Send + Sync + 'static> InboxSink<T> {
    /// A sink that sends `(tag, message)` to `tx`.
    pub fn new(tag: T, tx: mpsc::UnboundedSender<(T, Message)>) -> Arc<Self> {
        Arc::new(InboxSink { tag, tx })
    }
}

impl<T: Clone + Send + Sync + 'static> Sink for InboxSink<T> {
    fn enqueue(&self, _sub: &Subscription, msg: &Message) -> Enqueued {
        match self.tx.send((self.tag.clone(), msg.clone())) {
            Ok(()) => Enqueued::Queued {
                kick: false,
                stalled: false,
            },
            Err(_) => Enqueued::Dropped,
        }
    }

    fn flush(&self) {}
}

/// Subscribes an internal sink to `subject`; returns the subscription so its owner can
/// remove it later.
pub fn subscribe(
    router: &Router,
    subject: &str,
    sink: Arc<dyn Sink>,
) -> Result<Arc<Subscription>, crate::core::sublist::SublistError> {
    let sub = Arc::new(Subscription::new(
        INTERNAL_CLIENT_ID,
        Bytes::from_static(b"js"),
        Bytes::copy_from_slice(subject.as_bytes()),
        None,
        sink,
    ));
    router.subscribe(sub.clone())?;
    Ok(sub)
}

/// Publishes on JetStream's behalf. Each task owns one, so the publisher's match cache and
/// batched writer wake-ups work for internal traffic too.
pub struct Outbox {
    shared: Arc<Shared>,
    publisher: Publisher,
}

impl Outbox {
    /// An outbox publishing through the server's router.
    pub fn new(shared: Arc<Shared>) -> Self {
        Outbox {
            shared,
            publisher: Publisher::new(INTERNAL_CLIENT_ID, true),
        }
    }

    /// Publishes one message; returns how many subscriptions received it.
    pub fn send(
        &mut self,
        subject: Bytes,
        reply: Option<Bytes>,
        headers: Option<Bytes>,
        payload: Bytes,
    ) -> usize {
        let msg = Message {
            subject,
            reply,
            headers,
            payload,
        };
        self.shared.router.publish(&mut self.publisher, &msg)
    }

    /// Delivers a stored message to whoever subscribes to `route` (a deliver subject or a
    /// pull request's inbox), showing its original subject.
    pub fn deliver(&mut self, route: &Bytes, msg: &Message) -> usize {
        self.shared
            .router
            .publish_routed(&mut self.publisher, route, msg)
    }

    /// Whether anyone subscribes to `subject` (push consumers deliver only with interest).
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        let result = self.shared.router.matches(subject);
        !result.plain.is_empty() || result.queues.iter().any(|q| !q.members.is_empty())
    }

    /// Wakes the writers of everyone sent to since the last call.
    pub fn flush(&mut self) {
        self.publisher.flush();
    }
}
