//! The router: subscriptions live in one [`Sublist`], and a publish walks the match result
//! and hands the message to each subscriber's [`Sink`].
//!
//! Front-ends own a [`Publisher`] per connection. It keeps a small match cache of its own that
//! is validated against the sublist's generation, so the common case (same subjects over and
//! over) touches no shared lock, and it batches the "please flush" signals of the sinks it
//! wrote to so a burst of publishes wakes each subscriber's writer once.
//!
//! In upstream mode an [`Uplink`] is installed: publishes go to the upstream cluster instead
//! of local subscribers, every subscription change is reported to it, and what the cluster
//! delivers comes back through [`Router::deliver_upstream`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use rustc_hash::FxHashMap;

use super::message::Message;
use super::stall::StallGate;
use super::sublist::{MatchResult, Sublist, SublistError, SublistStats};

/// Where a subscriber's messages go: a NATS connection's outbound buffer, an SSE stream, ...
pub trait Sink: Send + Sync {
    /// Queues `msg` for `sub`. Must not block: a sink that cannot keep up drops the message
    /// and cuts its own connection (slow consumer), it never holds up the publisher.
    fn enqueue(&self, sub: &Subscription, msg: &Message) -> Enqueued;
    /// Wakes the sink's writer; called once per publisher batch for sinks that asked for it.
    fn flush(&self);
    /// The gate producers wait on while this sink's backlog is high (see
    /// [`crate::core::stall`]); sinks that never stall producers have none.
    fn stall_gate(&self) -> Option<&StallGate> {
        None
    }
}

/// The way out to an upstream NATS cluster (upstream mode). Local subscribers then receive
/// only what the cluster sends back, so a message is delivered once however it came in.
pub trait Uplink: Send + Sync {
    /// Sends a client's message upstream; false when it could not be accepted (the cluster
    /// is unreachable for a request, or the reconnect buffer is full).
    fn forward(&self, msg: &Message) -> bool;
    /// The first local subscription with this subject and queue appeared (`added`), or the
    /// last one went away.
    fn interest(&self, subject: &Bytes, queue: Option<&Bytes>, added: bool);
}

/// What a [`Sink`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// Queued; `kick` asks for a [`Sink::flush`] at the end of the publisher's batch.
    Queued {
        /// The sink's writer has not been signalled since it last drained.
        kick: bool,
        /// The sink's backlog is above its stall mark: the publisher should wait on its
        /// [`Sink::stall_gate`] before reading more.
        stalled: bool,
    },
    /// Not delivered (closed, slow consumer, or filtered by a permission).
    Dropped,
}

/// One subscription, shared between the sublist and the connection that owns it.
pub struct Subscription {
    /// The owning connection, for echo suppression and monitoring.
    pub client_id: u64,
    /// The subscription id the client chose.
    pub sid: Bytes,
    /// The subject pattern.
    pub subject: Bytes,
    /// The queue group, if any.
    pub queue: Option<Bytes>,
    /// Where matched messages go.
    pub sink: Arc<dyn Sink>,
    /// Auto-unsubscribe after this many deliveries (0 = never).
    max: AtomicU64,
    delivered: AtomicU64,
    closed: AtomicBool,
    wildcard: bool,
}

impl Subscription {
    /// A new, open subscription.
    pub fn new(
        client_id: u64,
        sid: Bytes,
        subject: Bytes,
        queue: Option<Bytes>,
        sink: Arc<dyn Sink>,
    ) -> Self {
        let wildcard = subject
            .split(|b| *b == b'.')
            .any(|t| t == b"*" || t == b">");
        Subscription {
            wildcard,
            client_id,
            sid,
            subject,
            queue,
            sink,
            max: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The auto-unsubscribe limit (0 = none).
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Whether it was unsubscribed (explicitly, by reaching its max, or by its connection closing).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// True if the subject holds `*` or `>` tokens (delivery-time deny checks need it).
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// Reserves one delivery. Returns `None` when the subscription must not receive the
    /// message, `Some(true)` when this delivery is its last (max reached).
    fn take_delivery(&self) -> Option<bool> {
        if self.is_closed() {
            return None;
        }
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max == 0 {
            return Some(false);
        }
        if n > max {
            return None;
        }
        Some(n == max)
    }
}

/// The subject router shared by all front-ends.
#[derive(Default)]
pub struct Router {
    sublist: Sublist<Subscription>,
    uplink: OnceLock<Arc<dyn Uplink>>,
    /// Local subscriptions per (subject, queue), so the uplink hears only the first and last.
    interest: parking_lot::Mutex<FxHashMap<(Bytes, Option<Bytes>), usize>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Router::default()
    }

    /// Turns on upstream mode; set once, before any client connects.
    pub fn set_uplink(&self, uplink: Arc<dyn Uplink>) {
        let _ = self.uplink.set(uplink);
    }

    /// Distinct (subject, queue) pairs subscribed upstream (upstream mode; 0 otherwise).
    pub fn upstream_interest(&self) -> usize {
        self.interest.lock().len()
    }

    /// Whether publishes go to an upstream cluster rather than to local subscribers.
    pub fn is_upstream(&self) -> bool {
        self.uplink.get().is_some()
    }

    /// Adds a subscription; fails on an invalid subject.
    pub fn subscribe(&self, sub: Arc<Subscription>) -> Result<(), SublistError> {
        let subject = sub.subject.clone();
        let queue = sub.queue.clone();
        self.sublist.insert(&subject, queue.as_deref(), sub)?;
        if let Some(uplink) = self.uplink.get() {
            let mut interest = self.interest.lock();
            let count = interest
                .entry((subject.clone(), queue.clone()))
                .or_insert(0);
            *count += 1;
            if *count == 1 {
                // Under the lock, so the uplink sees adds and removes in their real order.
                uplink.interest(&subject, queue.as_ref(), true);
            }
        }
        Ok(())
    }

    /// Removes a subscription; safe to call twice.
    pub fn unsubscribe(&self, sub: &Arc<Subscription>) {
        if !sub.closed.swap(true, Ordering::AcqRel) {
            // NotFound only happens if it was never inserted; nothing to undo then.
            let removed = self.sublist.remove(&sub.subject, sub.queue.as_deref(), sub);
            if let (Ok(()), Some(uplink)) = (removed, self.uplink.get()) {
                let mut interest = self.interest.lock();
                let key = (sub.subject.clone(), sub.queue.clone());
                if let Some(count) = interest.get_mut(&key) {
                    *count -= 1;
                    if *count == 0 {
                        interest.remove(&key);
                        uplink.interest(&sub.subject, sub.queue.as_ref(), false);
                    }
                }
            }
        }
    }

    /// Sets the auto-unsubscribe limit; removes the subscription at once if it is already reached.
    pub fn set_max(&self, sub: &Arc<Subscription>, max: u64) {
        sub.max.store(max, Ordering::Relaxed);
        if max > 0 && sub.delivered() >= max {
            self.unsubscribe(sub);
        }
    }

    /// Subscription count and match statistics (for `/subsz`).
    pub fn stats(&self) -> SublistStats {
        self.sublist.stats()
    }

    /// Number of subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.sublist.count()
    }

    /// All subscriptions whose pattern matches the literal `subject` (uncached by the caller).
    pub fn matches(&self, subject: &[u8]) -> Arc<MatchResult<Subscription>> {
        self.sublist.matches(subject)
    }

    /// Delivers `msg` to every matching subscription (one member per queue group).
    /// Returns how many subscriptions received it. In upstream mode the message goes to the
    /// cluster instead, and 1 means it was accepted for sending (the cluster decides who
    /// gets it), 0 that it was not.
    pub fn publish(&self, publisher: &mut Publisher, msg: &Message) -> usize {
        if let Some(uplink) = self.uplink.get() {
            return usize::from(uplink.forward(msg));
        }
        self.publish_routed(publisher, &msg.subject, msg)
    }

    /// Delivers a message the upstream cluster sent for the upstream subscription
    /// `(subject, queue)` to the local subscriptions with exactly that subject and queue
    /// (one member for a queue group): the others have their own upstream subscription and
    /// receive their own copy.
    pub fn deliver_upstream(
        &self,
        publisher: &mut Publisher,
        subject: &Bytes,
        queue: Option<&Bytes>,
        msg: &Message,
    ) -> usize {
        let result = publisher.lookup(&self.sublist, &msg.subject);
        let mut delivered = 0;
        match queue {
            None => {
                for sub in result.plain.iter().filter(|s| s.subject == *subject) {
                    if self.deliver(publisher, sub, msg) {
                        delivered += 1;
                    }
                }
            }
            Some(queue) => {
                let members: Vec<&Arc<Subscription>> = result
                    .queues
                    .iter()
                    .filter(|g| g.name == *queue)
                    .flat_map(|g| g.members.iter())
                    .filter(|s| s.subject == *subject)
                    .collect();
                let n = members.len();
                if n > 0 {
                    let start = publisher.next_random() as usize % n;
                    for i in 0..n {
                        if self.deliver(publisher, members[(start + i) % n], msg) {
                            delivered += 1;
                            break;
                        }
                    }
                }
            }
        }
        delivered
    }

    /// Delivers `msg` to the subscriptions matching `route` rather than its own subject:
    /// JetStream sends a stored message to a consumer's deliver subject or a pull request's
    /// inbox, and the subscriber sees the subject the message was published to.
    pub fn publish_routed(&self, publisher: &mut Publisher, route: &Bytes, msg: &Message) -> usize {
        let result = publisher.lookup(&self.sublist, route);
        let mut delivered = 0;
        for sub in &result.plain {
            if !publisher.echo && sub.client_id == publisher.client_id {
                continue;
            }
            if self.deliver(publisher, sub, msg) {
                delivered += 1;
            }
        }
        for group in &result.queues {
            let n = group.members.len();
            if n == 0 {
                continue;
            }
            let start = publisher.next_random() as usize % n;
            for i in 0..n {
                let sub = &group.members[(start + i) % n];
                if !publisher.echo && sub.client_id == publisher.client_id {
                    continue;
                }
                if self.deliver(publisher, sub, msg) {
                    delivered += 1;
                    break;
                }
            }
        }
        delivered
    }

    fn deliver(&self, publisher: &mut Publisher, sub: &Arc<Subscription>, msg: &Message) -> bool {
        let Some(last) = sub.take_delivery() else {
            return false;
        };
        let outcome = sub.sink.enqueue(sub, msg);
        if last {
            self.unsubscribe(sub);
        }
        match outcome {
            Enqueued::Queued { kick, stalled } => {
                if kick {
                    publisher.kicks.push(sub.sink.clone());
                }
                if stalled && !publisher.stalled.iter().any(|s| Arc::ptr_eq(s, &sub.sink)) {
                    publisher.stalled.push(sub.sink.clone());
                }
                true
            }
            Enqueued::Dropped => false,
        }
    }
}

/// Match results a publisher keeps for itself, dropped whenever the sublist changes.
const PUBLISHER_CACHE_MAX: usize = 512;

/// Per-connection publishing state: identity, echo, a private match cache and pending kicks.
pub struct Publisher {
    client_id: u64,
    echo: bool,
    generation: u64,
    cache: FxHashMap<Bytes, Arc<MatchResult<Subscription>>>,
    kicks: Vec<Arc<dyn Sink>>,
    /// Sinks above their stall mark that this publisher wrote to since the last
    /// [`Publisher::take_stalled`].
    stalled: Vec<Arc<dyn Sink>>,
    rng: u64,
}

impl Publisher {
    /// State for connection `client_id`; `echo = false` skips its own subscriptions.
    pub fn new(client_id: u64, echo: bool) -> Self {
        Publisher {
            client_id,
            echo,
            generation: u64::MAX,
            cache: FxHashMap::default(),
            kicks: Vec::new(),
            stalled: Vec::new(),
            rng: client_id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// Changes echo (set by CONNECT after the connection was created).
    pub fn set_echo(&mut self, echo: bool) {
        self.echo = echo;
    }

    /// Wakes every sink written to since the last call. Call after each batch of publishes.
    pub fn flush(&mut self) {
        for sink in self.kicks.drain(..) {
            sink.flush();
        }
    }

    /// Whether a sink written to since the last [`Publisher::take_stalled`] asked its
    /// producers to wait.
    pub fn has_stalled(&self) -> bool {
        !self.stalled.is_empty()
    }

    /// Takes the stalled sinks written to (each once), leaving the list empty.
    pub fn take_stalled(&mut self) -> Vec<Arc<dyn Sink>> {
        std::mem::take(&mut self.stalled)
    }

    fn lookup(
        &mut self,
        sublist: &Sublist<Subscription>,
        subject: &Bytes,
    ) -> Arc<MatchResult<Subscription>> {
        let generation = sublist.generation();
        if generation != self.generation {
            self.cache.clear();
            self.generation = generation;
        } else if let Some(hit) = self.cache.get(subject) {
            return hit.clone();
        }
        let result = sublist.matches(subject);
        if self.cache.len() >= PUBLISHER_CACHE_MAX {
            self.cache.clear();
        }
        // An owned key: the subject is a slice of the connection's read buffer, which must not
        // stay alive just because a cache entry points into it.
        self.cache
            .insert(Bytes::copy_from_slice(subject), result.clone());
        result
    }

    /// xorshift64: queue member selection needs speed, not cryptographic quality.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}
