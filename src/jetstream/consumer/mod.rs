//! Consumers: a cursor over a stream with acks, redelivery and two ways to receive, pull
//! (`CONSUMER.MSG.NEXT` requests) and push (a deliver subject).
//!
//! Each consumer is one task that owns its delivery loop (`deliver.rs`); its bookkeeping
//! (`state.rs`) sits behind a mutex so `CONSUMER.INFO` and interest retention can read it.
//! Acks arrive on an internal subscription to the consumer's `$JS.ACK` subjects, pull
//! requests from the API, and new messages as a wake-up from the stream.

mod deliver;
pub mod pull;
pub mod settings;
pub mod state;

use std::path::PathBuf;
use std::sync::{Arc, Weak};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::core::message::Message;
use crate::core::router::Subscription;
use crate::core::subject::subject_matches;
use crate::jetstream::api::consumer_types::ConsumerConfig;
use crate::jetstream::internal::{self, InboxSink, Outbox};
use crate::jetstream::store::MessageStore;
use crate::jetstream::stream::Stream;
use crate::server::Shared;
use pull::Waiting;
use settings::Settings;
use state::Tracker;

/// What reached the consumer's task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A message on `$JS.ACK.<stream>.<consumer>.>`.
    Ack,
    /// A `CONSUMER.MSG.NEXT` request.
    Next,
    /// A reply to a flow control request.
    FlowControl,
}

/// A consumer; see the module docs.
pub struct Consumer {
    /// Consumer name (the durable name for durables).
    pub name: String,
    /// The stream it reads.
    pub stream_name: String,
    /// Creation time, unix nanos.
    pub created: i64,
    inner: Mutex<Inner>,
    events: mpsc::UnboundedSender<(Event, Message)>,
    wake: Notify,
    cancel: CancellationToken,
    subs: Mutex<Vec<Arc<Subscription>>>,
    store: Arc<dyn MessageStore>,
    stream: Weak<Stream>,
    shared: Arc<Shared>,
    /// Where the bookkeeping persists (file streams only).
    state_path: Option<PathBuf>,
}

/// Everything the task and `CONSUMER.INFO` share.
struct Inner {
    config: ConsumerConfig,
    settings: Settings,
    tracker: Tracker,
    waiting: Waiting,
    /// Earliest redelivery deadline, unix nanos (`i64::MAX` when none).
    redelivery_check: i64,
    /// Last time someone showed interest (a pull request, or a push subscriber).
    last_active: i64,
    push: PushState,
    dirty: bool,
    /// When the bookkeeping was last written, unix nanos.
    last_persist: i64,
}

/// Consumer state is written at most this often (nats-server also flushes it in the
/// background): a crash loses at most this much ack progress, which means redeliveries,
/// never lost messages.
pub(crate) const PERSIST_EVERY: i64 = 25_000_000;

/// Push consumers: heartbeat and flow control bookkeeping.
#[derive(Default)]
struct PushState {
    last_sent: i64,
    since_flow_control: u64,
    flow_control_seq: u64,
    interest: bool,
}

/// The numbers `CONSUMER.INFO` reports, read under one lock.
pub struct Snapshot {
    /// The configuration.
    pub config: ConsumerConfig,
    /// Last consumer sequence delivered.
    pub delivered_consumer_seq: u64,
    /// Last stream sequence delivered.
    pub delivered_stream_seq: u64,
    /// Ack floor, consumer sequence.
    pub ack_floor_consumer_seq: u64,
    /// Ack floor, stream sequence.
    pub ack_floor_stream_seq: u64,
    /// Unacked deliveries.
    pub num_ack_pending: u64,
    /// Pending messages delivered more than once.
    pub num_redelivered: u64,
    /// Waiting pull requests.
    pub num_waiting: u64,
    /// Messages not yet delivered.
    pub num_pending: u64,
    /// A push consumer has a subscriber.
    pub push_bound: bool,
}

impl Consumer {
    /// Starts a consumer task. `tracker` is a fresh one or the state restored from disk.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        shared: Arc<Shared>,
        stream: &Arc<Stream>,
        name: String,
        config: ConsumerConfig,
        created: i64,
        mut tracker: Tracker,
        state_path: Option<PathBuf>,
    ) -> Arc<Consumer> {
        tracker.after_restore();
        let settings = Settings::from_config(&config);
        let (tx, rx) = mpsc::unbounded_channel();
        let now = crate::jetstream::now_nanos();
        let consumer = Arc::new(Consumer {
            name: name.clone(),
            stream_name: stream.name.clone(),
            created,
            inner: Mutex::new(Inner {
                config,
                settings,
                redelivery_check: tracker
                    .pending
                    .values()
                    .map(|p| p.deadline)
                    .min()
                    .unwrap_or(i64::MAX),
                tracker,
                waiting: Waiting::default(),
                last_active: now,
                push: PushState::default(),
                dirty: false,
                last_persist: 0,
            }),
            events: tx.clone(),
            wake: Notify::new(),
            cancel: CancellationToken::new(),
            subs: Mutex::new(Vec::new()),
            store: stream.store.clone(),
            stream: Arc::downgrade(stream),
            shared: shared.clone(),
            state_path,
        });
        let subjects = [
            (Event::Ack, format!("$JS.ACK.{}.{}.>", stream.name, name)),
            (
                Event::FlowControl,
                format!("$JS.FC.{}.{}.>", stream.name, name),
            ),
        ];
        for (event, subject) in subjects {
            match internal::subscribe(&shared.router, &subject, InboxSink::new(event, tx.clone())) {
                Ok(sub) => consumer.subs.lock().push(sub),
                // Names are validated before this point, so a bad subject is a bug.
                Err(e) => warn!(consumer = %name, "cannot subscribe to {subject}: {e}"),
            }
        }
        let task = consumer.clone();
        tokio::spawn(async move { task.run(rx, Outbox::new(shared)).await });
        consumer
    }

    /// Queues a `CONSUMER.MSG.NEXT` request.
    pub fn next_request(&self, reply: Bytes, body: Bytes) {
        let msg = Message {
            subject: Bytes::new(),
            reply: Some(reply),
            headers: None,
            payload: body,
        };
        let _ = self.events.send((Event::Next, msg));
    }

    /// New messages in the stream: look for something to deliver.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stops the task and removes the subscriptions; waiting pull requests are told.
    pub fn stop(&self) {
        self.cancel.cancel();
        self.persist(&mut self.inner.lock(), i64::MAX);
        for sub in self.subs.lock().drain(..) {
            self.shared.router.unsubscribe(&sub);
        }
        let waiting: Vec<_> = self.inner.lock().waiting.queue.drain(..).collect();
        let mut out = Outbox::new(self.shared.clone());
        for req in waiting {
            let hdr = crate::jetstream::headers::status(409, "Consumer Deleted", &[]);
            out.send(req.reply, None, Some(hdr), Bytes::new());
        }
        out.flush();
    }

    /// The configuration.
    pub fn config(&self) -> ConsumerConfig {
        self.inner.lock().config.clone()
    }

    /// Replaces the configuration (`CONSUMER.CREATE` with action update); the caller has
    /// checked that only mutable fields changed.
    pub fn update(&self, config: ConsumerConfig) {
        let mut inner = self.inner.lock();
        inner.settings = Settings::from_config(&config);
        inner.config = config;
        drop(inner);
        self.wake();
    }

    /// The numbers for `CONSUMER.INFO`.
    pub fn snapshot(&self) -> Snapshot {
        let inner = self.inner.lock();
        let t = &inner.tracker;
        Snapshot {
            config: inner.config.clone(),
            delivered_consumer_seq: t.dseq,
            delivered_stream_seq: t.sseq,
            ack_floor_consumer_seq: t.ack_floor_cseq,
            ack_floor_stream_seq: t.ack_floor_sseq,
            num_ack_pending: t.pending.len() as u64,
            num_redelivered: t.num_redelivered() as u64,
            num_waiting: inner.waiting.len() as u64,
            num_pending: self.num_pending(&inner),
            push_bound: inner.settings.is_push() && inner.push.interest,
        }
    }

    /// Whether this consumer reads messages on `subject`.
    pub fn wants(&self, subject: &[u8]) -> bool {
        let inner = self.inner.lock();
        filter_matches(&inner.settings, subject)
    }

    /// True when the consumer needs no more of message `sseq` on `subject` (interest
    /// retention removes a message once every consumer is done with it).
    pub fn is_done_with(&self, sseq: u64, subject: &[u8]) -> bool {
        let inner = self.inner.lock();
        if !filter_matches(&inner.settings, subject) {
            return true;
        }
        let t = &inner.tracker;
        if sseq <= t.ack_floor_sseq {
            return true;
        }
        if t.pending.contains_key(&sseq) || t.last_per_subject.contains(&sseq) {
            return false;
        }
        sseq < t.next_sseq
    }

    /// Messages not delivered yet: what `num_pending` reports.
    fn num_pending(&self, inner: &Inner) -> u64 {
        let t = &inner.tracker;
        let lps = t.last_per_subject.len() as u64;
        let from = t.next_sseq;
        if inner.settings.filters.is_empty() {
            return lps + self.store.num_pending(from, None);
        }
        lps + inner
            .settings
            .filters
            .iter()
            .map(|f| self.store.num_pending(from, Some(f)))
            .sum::<u64>()
    }

    /// Persists the bookkeeping if it changed and the last write is [`PERSIST_EVERY`] old
    /// (or `now` is `i64::MAX`: a final write). Returns when a pending write is due.
    fn persist(&self, inner: &mut Inner, now: i64) -> Option<i64> {
        if !inner.dirty {
            return None;
        }
        let due = inner.last_persist.saturating_add(PERSIST_EVERY);
        if now < due {
            return Some(due);
        }
        inner.dirty = false;
        inner.last_persist = now;
        let Some(path) = &self.state_path else {
            return None;
        };
        match serde_json::to_vec(&inner.tracker) {
            Ok(bytes) => {
                if let Err(e) = crate::jetstream::write_atomic(path, &bytes) {
                    warn!(consumer = %self.name, "cannot persist consumer state: {e}");
                }
            }
            Err(e) => warn!(consumer = %self.name, "cannot encode consumer state: {e}"),
        }
        None
    }
}

/// Whether `subject` passes the consumer's filters.
fn filter_matches(settings: &Settings, subject: &[u8]) -> bool {
    settings.filters.is_empty() || settings.filters.iter().any(|f| subject_matches(f, subject))
}
