//! The subscriber behind every HTTP-side subscription (SSE streams, JSON WebSocket sockets):
//! a bounded channel the router fills without ever waiting. When it is full the subscriber
//! is marked slow and `close` fires; its owner then ends the stream or socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::core::message::Message;
use crate::core::router::{Enqueued, Sink, Subscription};
use crate::reload::Session;

/// A [`Sink`] into a bounded channel of `T`, built from each message by `wrap`.
pub struct QueueSink<T> {
    /// Where queued items go.
    pub tx: mpsc::Sender<T>,
    /// Set when the channel was full: the subscriber could not keep up.
    pub slow: AtomicBool,
    /// Cancelled when the subscriber turns slow, so its owner need not poll `slow`.
    pub close: CancellationToken,
    /// Whose permissions apply: deny rules that only overlap a wildcard or queue
    /// subscription are checked per message, under the permissions in force (a reload may
    /// change them). `None` for the server's own subscriptions (a stream's ack inbox).
    session: Option<Arc<Session>>,
    wrap: fn(&Subscription, &Message) -> T,
}

impl<T> QueueSink<T> {
    /// A sink feeding `tx`, filtered by the permissions of `session` (if any).
    pub fn new(
        tx: mpsc::Sender<T>,
        session: Option<Arc<Session>>,
        wrap: fn(&Subscription, &Message) -> T,
    ) -> Self {
        QueueSink {
            tx,
            slow: AtomicBool::new(false),
            close: CancellationToken::new(),
            session,
            wrap,
        }
    }
}

impl<T: Send> Sink for QueueSink<T> {
    fn enqueue(&self, sub: &Subscription, msg: &Message) -> Enqueued {
        if self.slow.load(Ordering::Relaxed) {
            return Enqueued::Dropped;
        }
        if let Some(session) = &self.session
            && let Some(p) = &session.identity().permissions
            && p.denies_delivery(sub, &msg.subject)
        {
            return Enqueued::Dropped;
        }
        match self.tx.try_send((self.wrap)(sub, msg)) {
            Ok(()) => Enqueued::Queued {
                kick: false,
                stalled: false,
            },
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.slow.store(true, Ordering::Release);
                self.close.cancel();
                Enqueued::Dropped
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Enqueued::Dropped,
        }
    }

    fn flush(&self) {}
}
