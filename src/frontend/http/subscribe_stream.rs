//! Server-Sent Events read from a JetStream stream: when a stream captures every subject a
//! subscription's pattern can match, the events come from the stream rather than from live
//! routing. Each event then carries `id: <stream sequence>`, and a client that reconnects
//! with `Last-Event-ID` (browsers' `EventSource` does so by itself) continues right after the
//! last event it saw, with nothing lost and nothing repeated.
//!
//! The reader follows the stream at its own pace (a cursor and a wake-up on every append),
//! so unlike a live subscription it can never fall behind and be cut off.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::Event;
use futures_util::Stream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::subscribe::SseMessage;
use crate::core::message::Message;
use crate::core::subject::is_subset_match;
use crate::jetstream::stream::Stream as JsStream;
use crate::reload::Session;
use crate::server::Shared;

/// Messages read from the store per wake-up before yielding.
const READ_BATCH: usize = 256;

/// The stream whose subjects cover every subject `pattern` can match, if JetStream runs.
pub fn covering_stream(shared: &Shared, pattern: &str) -> Option<Arc<JsStream>> {
    let js = shared.jetstream.get()?;
    js.streams().into_iter().find(|s| {
        s.config()
            .subjects
            .iter()
            .any(|subject| is_subset_match(pattern.as_bytes(), subject.as_bytes()))
    })
}

/// Where a reader starts: after `Last-Event-ID` when it is a sequence, else with the next
/// message stored (like a live subscription).
pub fn start_seq(stream: &JsStream, last_event_id: Option<&str>) -> u64 {
    match last_event_id.and_then(|v| v.trim().parse::<u64>().ok()) {
        Some(seen) => seen + 1,
        None => stream.store.state().last_seq + 1,
    }
}

struct Reader {
    stream: Arc<JsStream>,
    pattern: String,
    next: u64,
    appended: watch::Receiver<u64>,
    shutdown: CancellationToken,
    /// Whose permissions filter what is read (a reload may change them).
    session: Arc<Session>,
    force_base64: bool,
    buffered: std::collections::VecDeque<Event>,
}

/// The event stream of a stream-backed subscription.
pub fn events(
    shared: &Shared,
    stream: Arc<JsStream>,
    pattern: String,
    start: u64,
    session: Arc<Session>,
    force_base64: bool,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let reader = Reader {
        appended: stream.appended(),
        stream,
        pattern,
        next: start.max(1),
        shutdown: shared.shutdown_token().clone(),
        session,
        force_base64,
        buffered: Default::default(),
    };
    futures_util::stream::unfold(reader, next_event)
}

async fn next_event(mut r: Reader) -> Option<(Result<Event, Infallible>, Reader)> {
    loop {
        if let Some(ev) = r.buffered.pop_front() {
            return Some((Ok(ev), r));
        }
        // Mark what has been seen before reading, so an append racing with the read wakes us.
        r.appended.borrow_and_update();
        r.fill();
        if !r.buffered.is_empty() {
            continue;
        }
        tokio::select! {
            _ = r.shutdown.cancelled() => return None,
            changed = r.appended.changed() => changed.ok()?,
        }
    }
}

impl Reader {
    /// Reads up to a batch of stored messages matching the pattern into events.
    fn fill(&mut self) {
        let wildcard = self.pattern.split('.').any(|t| t == "*" || t == ">");
        let identity = self.session.identity();
        for _ in 0..READ_BATCH {
            let Ok(Some(m)) = self
                .stream
                .store
                .load_next(self.next, Some(self.pattern.as_bytes()))
            else {
                return;
            };
            self.next = m.seq + 1;
            if wildcard
                && let Some(p) = &identity.permissions
                && p.subscribe.denies(&m.subject)
            {
                continue;
            }
            let msg = Message {
                subject: m.subject,
                reply: None,
                headers: m.headers,
                payload: m.payload,
            };
            let data = serde_json::to_string(&SseMessage::new(&msg, self.force_base64))
                .unwrap_or_default();
            self.buffered.push_back(
                Event::default()
                    .event("message")
                    .id(m.seq.to_string())
                    .data(data),
            );
        }
    }
}
